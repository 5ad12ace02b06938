import type { App } from '../../src/app.js';
import { type Account, call, expectStatus } from './accounts.js';
import type { Frame } from './ws-client.js';

/*
 * What a client keeps that belongs to no conversation, built two ways as ConversationReplica is: from
 * REST (blocks, the status updates it may see, the active announcements and which it read) and by
 * applying the streams' events (`stream: user | announcements`) in seq order.
 */

export interface UserReplica {
  blocked: string[];
  statuses: Record<string, { authorId: string; body: string | null }>;
  announcements: Record<string, { title: string; body: string }>;
  read: string[];
}

/** The seq of the last event applied of each stream. */
export type StreamPositions = { user: number; announcements: number };

async function getJson(app: App, reader: Account, path: string): Promise<any> {
  return expectStatus(await call(app, 'GET', path, { token: reader.accessToken }), 200, `GET ${path}`);
}

export async function userSnapshot(app: App, reader: Account): Promise<UserReplica> {
  const blocks = (await getJson(app, reader, '/users/me/blocks?limit=100')).items as Array<{ user: { id: string } }>;
  const feed = (await getJson(app, reader, '/status')).items as Array<{ statuses: Array<{ id: string; authorId: string; body: string | null }> }>;
  const mine = (await getJson(app, reader, '/status/me')).items as Array<{ id: string; authorId: string; body: string | null }>;
  const announcements = (await getJson(app, reader, '/announcements?limit=100')).items as Array<{ id: string; title: string; body: string; read: boolean }>;
  return {
    blocked: blocks.map((b) => b.user.id).sort(),
    statuses: Object.fromEntries([...feed.flatMap((f) => f.statuses), ...mine].map((s) => [s.id, { authorId: s.authorId, body: s.body }])),
    announcements: Object.fromEntries(announcements.map((a) => [a.id, { title: a.title, body: a.body }])),
    read: announcements.filter((a) => a.read).map((a) => a.id).sort(),
  };
}

/**
 * Applies one stream event. Returns false for a frame of no stream; throws when its seq is not above
 * the last one applied of its stream (a client must never see that).
 */
export function applyStreamEvent(replica: UserReplica, positions: StreamPositions, frame: Frame): boolean {
  const stream = (frame as { stream?: unknown }).stream;
  if (stream !== 'user' && stream !== 'announcements') return false;
  const seq = (frame as unknown as { seq: number }).seq;
  if (typeof seq !== 'number' || seq <= positions[stream]) throw new Error(`seq ${seq} of ${frame.type} (${stream}) applied after ${positions[stream]}`);
  positions[stream] = seq;
  const data = frame.data;
  switch (frame.type) {
    case 'user.blocked':
      replica.blocked = [...new Set([...replica.blocked, data.userId])].sort();
      break;
    case 'user.unblocked':
      replica.blocked = replica.blocked.filter((id) => id !== data.userId);
      break;
    case 'status.created':
      replica.statuses[data.id] = { authorId: data.authorId, body: data.body };
      break;
    case 'status.deleted':
      delete replica.statuses[data.id];
      break;
    case 'announcement':
      replica.announcements[data.id] = { title: data.title, body: data.body };
      break;
    case 'announcement.withdrawn':
      delete replica.announcements[data.id];
      break;
    case 'announcement.read':
      replica.read = [...new Set([...replica.read, data.id])].sort();
      break;
    default:
      throw new Error(`no rule for the stream event ${frame.type}`);
  }
  return true;
}

/** What the two views must agree on: read marks count for listed announcements (REST lists only those). */
export function comparableUser(replica: UserReplica): UserReplica {
  return { ...replica, read: replica.read.filter((id) => id in replica.announcements) };
}
