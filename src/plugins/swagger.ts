import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import fp from 'fastify-plugin';
import { packageInfo } from '../lib/package-info.js';
import { Problem } from '../schemas/common.js';
import { documentRoute, problemStatusSchemas } from './openapi-route.js';

export const apiTags = [
  { name: 'auth', description: 'Sign-up, sign-in, one-time codes, tokens and sessions' },
  { name: 'users', description: 'Profiles, search and blocking' },
  { name: 'chat', description: 'Conversations: direct chats, groups, broadcast lists, receipts' },
  { name: 'message', description: 'Messages: send, history, edit, delete, reactions' },
  { name: 'media', description: 'Uploads (images, video, audio, files), downloads with ranges, thumbnails, signed links' },
  { name: 'status', description: 'Status updates: 24-hour posts for your contacts' },
  { name: 'feedback', description: 'Tickets: users file them, staff (support, admin) answer them under /admin/feedback' },
  { name: 'support', description: 'Customer service chat: the user’s support conversation and the staff queue' },
  { name: 'announcements', description: 'What the operator tells every user; published under /admin/announcements' },
  { name: 'reports', description: 'Abuse reports and the staff queue that acts on them' },
  { name: 'admin', description: 'Operator tools (role admin): accounts, bans, roles, sessions, audit log, stats' },
  { name: 'health', description: 'Liveness and readiness probes' },
];

/**
 * OpenAPI 3.1 generated from the route schemas, and Swagger UI at /docs. Shared schemas registered
 * with addSchema keep their $id as the component name. The generated document is committed as
 * openapi/openapi.json (npm run openapi); it depends on nothing but the code, so the commit is
 * reproducible. PUBLIC_URL only adds a server entry to the document served at runtime. Swagger UI
 * keeps the bearer token you authorize with across reloads (persistAuthorization, browser storage).
 */
/** The OpenAPI document as committed in openapi/openapi.json (stable formatting, trailing newline). */
export function renderOpenApi(app: { swagger: () => unknown }): string {
  return `${JSON.stringify(app.swagger(), null, 2)}\n`;
}

export const swaggerPlugin = fp<{ publicUrl: string | undefined }>(
  async (app, { publicUrl }) => {
    app.addSchema(Problem);
    for (const schema of problemStatusSchemas()) app.addSchema(schema);
    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: 'Chat backend API',
          version: packageInfo.version,
          description:
            'REST API of the chat service. Errors are application/problem+json with a stable `code`. ' +
            'Lists answer `{items, nextCursor}` and take `?cursor=&limit=`. Real-time events: see asyncapi.yaml.',
        },
        servers: [...(publicUrl ? [{ url: publicUrl }] : []), { url: '/', description: 'This server' }],
        components: {
          securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
        },
        tags: apiTags,
      },
      // operationIds, optional defaults, descriptions, error codes and examples: see openapi-route.ts.
      transform: documentRoute as never,
      refResolver: {
        buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`),
      },
    });
    await app.register(swaggerUi, {
      routePrefix: '/docs',
      staticCSP: true,
      uiConfig: { deepLinking: true, persistAuthorization: true },
    });
  },
  { name: 'swagger' },
);
