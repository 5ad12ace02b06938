import websocket from '@fastify/websocket';
import fp from 'fastify-plugin';

/** Close code sent to every open socket when the instance shuts down: clients reconnect elsewhere. */
export const CLOSE_GOING_AWAY = 1001;

/**
 * The WebSocket server shared by /ws routes. On app.close() every socket is closed with 1001 before
 * the HTTP server stops, so clients can resume on another instance right away.
 */
export const websocketPlugin = fp<{ maxPayloadBytes: number }>(
  async (app, { maxPayloadBytes }) => {
    await app.register(websocket, {
      options: {
        maxPayload: maxPayloadBytes,
        // A token offered as `Sec-WebSocket-Protocol: bearer, <token>` is answered with the `bearer` subprotocol.
        handleProtocols: (protocols) => (protocols.has('bearer') ? 'bearer' : false),
      },
      preClose: async function closeSockets() {
        const server = app.websocketServer;
        for (const socket of server.clients) socket.close(CLOSE_GOING_AWAY, 'server shutting down');
        await new Promise<void>((resolve) => server.close(() => resolve()));
      },
    });
  },
  { name: 'websocket' },
);
