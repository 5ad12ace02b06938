import type { ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { WebSocket } from 'ws';
import type { StreamName } from '../events/chat-events.js';
import type { Config } from '../config.js';
import { AppError, isAppError } from '../errors.js';
import type { CommandContext } from './commands.js';
import { CLOSE, Connection } from './connection.js';
import { createFrameDispatcher } from './frame-dispatcher.js';
import { createConversationRepository } from '../modules/conversations/conversation.repository.js';
import { createUserRepository } from '../modules/users/user.repository.js';
import { createHub } from './hub.js';
import { createPresence } from './presence.js';
import { createMemoryPresence, createRedisPresence } from './presence-store.js';
import { type SocketIdentity, authenticateUpgrade, tokenExpiry } from './upgrade-auth.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Users with a socket open on any instance (admin stats). */
    onlineUsers: () => Promise<number>;
  }
  interface FastifyRequest {
    socketIdentity: SocketIdentity | null;
    socketRoom: { conversation: unknown; conversationId: string } | null;
  }
}

const TYPING_THROTTLE_MS = 2_000;
/** Users one socket may watch the presence of. */
const PRESENCE_WATCH_MAX = 500;

/**
 * The WebSocket gateway: `/ws` (a device: every conversation of the user) and `/ws/chat/:room` (one
 * conversation). Authentication and room membership are checked before the upgrade, so a refused
 * socket is an ordinary HTTP answer. Frames run one at a time per socket, in arrival order, through
 * the command table, which calls the same services as REST.
 */
export const gatewayPlugin = fp<{ config: Config }>(
  async (app, { config }) => {
    const log = app.log.child({ component: 'gateway' });
    const hub = createHub(app.bus, (error, context) => log.warn({ err: error, context }, 'gateway bus operation failed'));
    const connections = new Set<{ connection: Connection; socket: WebSocket; alive: boolean }>();
    const ws = config.ws;
    const presence = createPresence({
      store: app.redis
        ? createRedisPresence(app.redis, { prefix: config.redis.keyPrefix, instanceId: randomUUID(), ttlMs: ws.pingIntervalSeconds * 2500 })
        : createMemoryPresence(),
      bus: app.bus,
      users: createUserRepository(app.db),
      conversations: createConversationRepository(app.db),
      onError: (error) => log.warn({ err: error }, 'presence update failed'),
    });

    /**
     * Typing relay state per user and conversation, shared by the user's sockets on this instance:
     * repeated starts within TYPING_THROTTLE_MS are folded (clients send one per keystroke); a stop is
     * relayed only after a start, and a start after a stop is news again.
     */
    const typingSince = new Map<string, number>();
    function typingAllowed(key: string, state: 'start' | 'stop'): boolean {
      const since = typingSince.get(key);
      if (state === 'stop') return typingSince.delete(key);
      if (since !== undefined && Date.now() - since < TYPING_THROTTLE_MS) return false;
      typingSince.set(key, Date.now());
      return true;
    }

    /**
     * Lets go of the upgrade's HTTP objects. @fastify/websocket routes the upgrade through a
     * ServerResponse assigned to the socket (it never finishes) and listens for socket errors with a
     * closure over the request and reply: left as they are, they keep the request, reply, their
     * logger and the headers alive as long as the socket (about 3 KiB each). Errors are handled
     * here the way that listener did: logged, and the socket terminated.
     */
    function releaseUpgrade(socket: WebSocket, request: FastifyRequest): void {
      const raw = request.raw.socket as (typeof request.raw.socket & { _httpMessage?: ServerResponse | null }) | null;
      if (raw?._httpMessage) raw._httpMessage.detachSocket(raw);
      socket.removeAllListeners('error');
      socket.on('error', (error) => {
        log.warn({ err: error }, 'socket error');
        socket.terminate();
      });
    }

    /** `?resume=1`: the client's first frame is a resume, so message.created waits for it (strict order across a reconnect). */
    const resumeOnConnect = (request: FastifyRequest) => ['1', 'true'].includes(String((request.query as { resume?: unknown } | undefined)?.resume));

    app.decorate('onlineUsers', () => presence.onlineCount());
    app.decorateRequest('socketIdentity', null);
    app.decorateRequest('socketRoom', null);

    /**
     * Sockets per user on this instance, counted from the moment an upgrade is admitted (checked and
     * taken in one synchronous step, so concurrent upgrades cannot overshoot the cap) until its TCP
     * connection closes, whether the upgrade completed or not.
     */
    const socketsPerUser = new Map<string, number>();
    function reserveSocket(request: FastifyRequest, userId: string): void {
      const held = socketsPerUser.get(userId) ?? 0;
      if (held >= ws.maxSocketsPerUser) throw new AppError('RATE_LIMITED', `At most ${ws.maxSocketsPerUser} sockets per user`);
      socketsPerUser.set(userId, held + 1);
      request.raw.socket.once('close', () => {
        const left = (socketsPerUser.get(userId) ?? 1) - 1;
        if (left > 0) socketsPerUser.set(userId, left);
        else socketsPerUser.delete(userId);
      });
    }

    async function admit(request: FastifyRequest): Promise<void> {
      const identity = await authenticateUpgrade(request, {
        services: app.services,
        corsOrigins: config.corsOrigins,
        ticketLifetimeMs: config.auth.accessTokenTtlSeconds * 1000,
      });
      reserveSocket(request, identity.actor.userId);
      request.socketIdentity = identity;
    }

    function open(socket: WebSocket, request: FastifyRequest): void {
      const identity = request.socketIdentity!;
      const room = request.socketRoom;
      releaseUpgrade(socket, request);
      const connection = new Connection({
        socket,
        actor: identity.actor,
        roomConversationId: room?.conversationId ?? null,
        maxBufferedBytes: ws.maxBufferedBytes,
        readAfter: (actor, conversationId, after) => app.services.messages.readAfter(actor, conversationId, after),
        readStream: (actor, stream, after) => app.services.sync.readStream(actor, stream, after),
        holdUntilFirstFrame: resumeOnConnect(request),
        readFailure: (error) => (isAppError(error) && error.status < 500 ? 'stop' : 'retry'),
        onError: (error, context) => log.warn({ err: error, context }, 'socket catch-up failed; retrying'),
      });
      const entry = { connection, socket, alive: true };
      connections.add(entry);
      socket.on('pong', () => {
        entry.alive = true;
      });

      let expiry: NodeJS.Timeout | undefined;
      const expireAt = (at: number) => {
        clearTimeout(expiry);
        expiry = setTimeout(() => connection.close(CLOSE.tokenExpired, 'access token expired'), Math.max(0, at - Date.now()));
        expiry.unref();
      };
      expireAt(identity.expiresAt);

      const context: CommandContext = {
        connection,
        services: app.services,
        events: app.services.events,
        async refresh(accessToken) {
          const actor = await app.services.auth.authenticate(accessToken);
          if (actor.userId !== connection.userId) throw new AppError('UNAUTHORIZED', 'The token belongs to another user');
          connection.actor = actor;
          expireAt(tokenExpiry(accessToken));
        },
        async watchPresence(userIds) {
          const items = await presence.snapshot(connection.userId, userIds);
          const fresh = items.filter((item) => !connection.watching.has(item.userId));
          if (connection.watching.size + fresh.length > PRESENCE_WATCH_MAX) throw new AppError('RATE_LIMITED', `A socket watches at most ${PRESENCE_WATCH_MAX} users`);
          for (const item of fresh) connection.watching.add(item.userId);
          await Promise.all(fresh.map((item) => hub.watchPresence(connection, item.userId)));
          return items;
        },
        typingAllowed: (conversationId, state) => typingAllowed(`${connection.userId}:${conversationId}`, state),
      };

      socket.on('message', createFrameDispatcher({ connection, context, setup: start(), rateLimit: ws.rateLimit, rateWindowMs: ws.rateWindowMs, log }));

      socket.on('close', () => {
        clearTimeout(expiry);
        connection.dispose();
        connections.delete(entry);
        hub.removeConnection(connection, [...connection.followed, ...(room ? [room.conversationId] : [])]);
        hub.unwatchPresence(connection, connection.watching);
        presence.closed(connection.userId);
      });

      /** Subscribe first, then read positions, then `ready`: nothing committed in between is missed. */
      async function start(): Promise<void> {
        presence.opened(connection.userId);
        try {
          await hub.addConnection(connection);
          if (room) {
            connection.followed.add(room.conversationId);
            await hub.follow(connection, room.conversationId);
            const syncToken = await app.services.sync.token();
            const conversation = await app.services.conversations.get(connection.actor, room.conversationId);
            connection.setPosition(room.conversationId, conversation.lastSeq, await app.services.conversations.historyFrom(connection.actor, room.conversationId));
            connection.ready({ user: await app.services.users.me(connection.actor), conversation, lastSeq: conversation.lastSeq, syncToken });
            return;
          }
          const initial = await app.services.conversations.followed(connection.actor);
          await Promise.all(initial.map((c) => (connection.followed.add(c.id), hub.follow(connection, c.id))));
          // Taken before the positions are read: everything it sees is at or below them.
          const syncToken = await app.services.sync.token();
          const followed = await app.services.conversations.followed(connection.actor);
          for (const c of followed) connection.setPosition(c.id, c.lastSeq, c.historyFrom);
          const conversations = followed.map(({ historyFrom: _historyFrom, ...c }) => c);
          const streams = await app.services.sync.streamHeads(connection.actor);
          for (const [stream, seq] of Object.entries(streams) as Array<[StreamName, number]>) connection.setStreamPosition(stream, seq);
          connection.ready({ user: await app.services.users.me(connection.actor), conversations, streams, syncToken });
        } catch (error) {
          log.error({ err: error }, 'socket setup failed');
          connection.close(CLOSE.tryAgainLater, 'setup failed, reconnect');
        }
      }
    }

    app.get('/ws', { websocket: true, preValidation: admit, schema: { hide: true } }, open);
    app.get(
      '/ws/chat/:room',
      {
        websocket: true,
        schema: { hide: true },
        preValidation: async (request) => {
          await admit(request);
          const { room } = request.params as { room: string };
          const conversation = await app.services.conversations.byRoom(request.socketIdentity!.actor, room);
          request.socketRoom = { conversation, conversationId: conversation.id };
        },
      },
      open,
    );

    /**
     * The bus lost messages while its transport was down: once it is subscribed again, every socket
     * reads from the log what it missed in the conversations whose last seq moved past its position.
     */
    const stopListening = app.bus.onReconnect(() => {
      for (const { connection } of connections) {
        connection.catchUpStreams();
        void (async () => {
          const ids = connection.roomConversationId ? [connection.roomConversationId] : null;
          const current = await app.services.conversations.followed(connection.actor);
          for (const { id, lastSeq } of current) {
            if ((ids && !ids.includes(id)) || !connection.followed.has(id)) continue;
            const position = connection.position(id);
            if (position !== undefined && lastSeq > position) connection.catchUp(id, lastSeq);
          }
        })().catch((error: unknown) => log.warn({ err: error }, 'replay after bus reconnect failed'));
      }
    });

    const heartbeat = setInterval(() => {
      void presence.refresh().then(() => presence.sweep());
      for (const [key, since] of typingSince) if (Date.now() - since > TYPING_THROTTLE_MS * 5) typingSince.delete(key);
      for (const entry of connections) {
        if (!entry.alive) {
          entry.socket.terminate();
          continue;
        }
        entry.alive = false;
        entry.socket.ping();
      }
    }, ws.pingIntervalSeconds * 1000);
    heartbeat.unref();
    app.addHook('onClose', async () => {
      clearInterval(heartbeat);
      stopListening();
    });
  },
  { name: 'gateway', dependencies: ['services', 'websocket'] },
);
