# Chat backend image.
#   docker build -t chat-backend .
#   docker run -p 3000:3000 -e DATABASE_URL=postgres://... -e REDIS_URL=redis://... chat-backend
# Without DATABASE_URL/REDIS_URL the app runs single-instance on embedded PGlite in DATA_DIR.
#
# Plain Dockerfile syntax (no BuildKit-only features such as RUN --mount) so that the legacy
# builder used by docker-compose 1.x builds it as well as BuildKit does.

ARG NODE_IMAGE=node:24-bookworm-slim

# ---- build: full dependency tree (TypeScript) and compile src -> dist ----
FROM ${NODE_IMAGE} AS build
WORKDIR /app
# postinstall runs scripts/build-if-stale.mjs, which skips while src/ is not copied yet.
COPY package.json package-lock.json ./
COPY scripts/build-if-stale.mjs ./scripts/
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY migrations ./migrations
RUN npm run build

# ---- runtime: production dependencies, compiled output and migrations only ----
FROM ${NODE_IMAGE} AS runtime
WORKDIR /app

# HOST=0.0.0.0: the app defaults to loopback, which is unreachable from outside a container.
# DATA_DIR must be writable by the non-root user (PGlite when DATABASE_URL is unset, upload temp files,
# media on disk when S3_BUCKET is unset).
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    DATA_DIR=/app/data

# Native dependencies (e.g. argon2) ship prebuilt binaries, so no compiler toolchain is needed here.
# postinstall (scripts/build-if-stale.mjs) does nothing here: no TypeScript, no src/.
COPY package.json package-lock.json ./
COPY scripts/build-if-stale.mjs ./scripts/
RUN npm ci --omit=dev --no-audit --no-fund \
 && npm cache clean --force

# Runtime path contracts: dist/lib reads ../../package.json and dist/db reads ../../migrations,
# so package.json, migrations/ and dist/ must stay siblings under /app.
COPY migrations ./migrations
COPY --from=build /app/dist ./dist

# Code and node_modules stay root-owned (read-only for the app); only DATA_DIR is writable.
# data/media exists in the image so a volume mounted there starts out owned by the app user.
RUN mkdir -p /app/data/media && chown -R node:node /app/data
USER node

EXPOSE 3000

# Readiness (DB + Redis reachable), probed with Node's built-in fetch: slim images have no curl/wget.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/health/ready',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1)).catch(()=>process.exit(1))"]

# Exec form, node as PID 1: SIGTERM reaches the app directly, which closes sockets with 1001 and
# drains within SHUTDOWN_TIMEOUT_MS (10 s by default; keep the orchestrator's grace period above it).
STOPSIGNAL SIGTERM
# A young generation of 16 MiB semi-spaces: V8 would otherwise grow it to its default maximum on this
# much memory and keep ~90 MiB more resident, for no measured gain in throughput (BENCHMARKS.md).
CMD ["node", "--max-semi-space-size=16", "dist/server.js"]
