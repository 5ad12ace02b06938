import type { App } from '../../src/app.js';
import { type Account, call, expectStatus } from './accounts.js';
import { history } from './chat.js';
import type { Frame } from './ws-client.js';

/*
 * What a client keeps of one conversation, built two ways: from a snapshot over REST (what a fresh
 * device loads), and by applying the socket's events in order (what a device that was offline
 * rebuilds). Tests of offline sync compare the two: after any change and any reconnect they must be
 * equal. The event rules are the README's ("Reconnecting and offline sync").
 */

export interface ReplicaMessage {
  seq: number;
  body: string | null;
  edited: boolean;
  deleted: boolean;
  reactions: Array<{ emoji: string; count: number }>;
}

export interface ConversationReplica {
  /** Whose view this is. */
  viewerId: string;
  title: string | null;
  description: string | null;
  settings: { muted: boolean; mutedUntil: string | null; notify: string; archived: boolean; pinned: boolean };
  left: boolean;
  messages: Record<string, ReplicaMessage>;
  pins: string[];
  receipts: Record<string, { readSeq: number; deliveredSeq: number }>;
  members: Record<string, string>;
}

const asMessage = (m: any): ReplicaMessage => ({ seq: m.seq, body: m.body ?? null, edited: m.editedAt !== null, deleted: m.deletedAt !== null, reactions: m.reactions ?? [] });

async function getJson(app: App, reader: Account, path: string): Promise<any> {
  return expectStatus(await call(app, 'GET', path, { token: reader.accessToken }), 200, `GET ${path}`);
}

/** The conversation as a fresh device loads it over REST. A former member keeps only the history up to the leave. */
export async function snapshot(app: App, reader: Account, conversationId: string): Promise<ConversationReplica> {
  const view = await getJson(app, reader, `/chat/${conversationId}`);
  const items: any[] = [];
  for (let query = '?limit=100'; ; ) {
    const page = await history(app, reader, conversationId, query);
    items.unshift(...page.items);
    if (page.olderCursor === null) break;
    query = `?limit=100&before=${page.olderCursor}`;
  }
  const pins = (await getJson(app, reader, `/chat/${conversationId}/pins`)).items as Array<{ message: { id: string } }>;
  const replica: ConversationReplica = {
    viewerId: reader.user.id,
    title: view.title,
    description: view.description ?? null,
    settings: { muted: view.muted, mutedUntil: view.mutedUntil, notify: view.notify, archived: view.archived, pinned: view.pinned },
    left: view.left,
    messages: Object.fromEntries(items.map((m: any) => [m.id, asMessage(m)])),
    pins: pins.map((p) => p.message.id).sort(),
    receipts: {},
    members: {},
  };
  if (!view.left) {
    const receipts = (await getJson(app, reader, `/chat/${conversationId}/receipts`)).items as Array<{ userId: string; readSeq: number; deliveredSeq: number }>;
    replica.receipts = Object.fromEntries(receipts.map((r) => [r.userId, { readSeq: r.readSeq, deliveredSeq: r.deliveredSeq }]));
    const members = (await getJson(app, reader, `/chat/${conversationId}/members?limit=100`)).items as Array<{ user: { id: string }; role: string }>;
    replica.members = Object.fromEntries(members.map((m) => [m.user.id, m.role]));
  }
  return replica;
}

/**
 * Applies one event frame of the conversation. Returns false for a frame that is not a logged event
 * of it. Throws when a seq is not above the last one applied: a client must never see that.
 */
export function applyEvent(replica: ConversationReplica, position: { seq: number }, frame: Frame): boolean {
  if (typeof (frame as { seq?: unknown }).seq !== 'number') return false;
  const seq = (frame as unknown as { seq: number }).seq;
  if (seq <= position.seq) throw new Error(`seq ${seq} of ${frame.type} applied after ${position.seq}`);
  position.seq = seq;
  const data = frame.data;
  switch (frame.type) {
    case 'message.created': {
      replica.messages[data.id] = asMessage(data);
      // A member's own message moves their receipts to it.
      const own = replica.receipts[data.senderId];
      if (own) replica.receipts[data.senderId] = { readSeq: Math.max(own.readSeq, data.seq), deliveredSeq: Math.max(own.deliveredSeq, data.seq) };
      break;
    }
    case 'message.updated':
    case 'message.deleted':
      if (replica.messages[data.id]) replica.messages[data.id] = asMessage(data);
      if (frame.type === 'message.deleted') replica.pins = replica.pins.filter((id) => id !== data.id);
      break;
    case 'message.hidden':
      delete replica.messages[data.messageId];
      break;
    case 'conversation.cleared':
      for (const [id, message] of Object.entries(replica.messages)) {
        if (message.seq > data.clearedSeq) continue;
        delete replica.messages[id];
        replica.pins = replica.pins.filter((pinned) => pinned !== id);
      }
      break;
    case 'reaction.updated':
      if (replica.messages[data.messageId]) replica.messages[data.messageId]!.reactions = data.reactions;
      break;
    case 'pin.updated':
      replica.pins = data.pinned ? [...new Set([...replica.pins, data.messageId])].sort() : replica.pins.filter((id) => id !== data.messageId);
      break;
    case 'receipt.updated':
      replica.receipts[data.userId] = { readSeq: data.readSeq, deliveredSeq: data.deliveredSeq };
      break;
    case 'member.joined':
      // Yourself, back after leaving: a client loads the conversation again (README, step 3); the rest is as for anyone.
      if (data.userId === replica.viewerId) replica.left = false;
      replica.members[data.userId] = data.role;
      replica.receipts[data.userId] = { readSeq: data.readSeq, deliveredSeq: data.deliveredSeq };
      break;
    case 'member.updated':
      replica.members[data.userId] = data.role;
      replica.receipts[data.userId] = { readSeq: data.readSeq, deliveredSeq: data.deliveredSeq };
      break;
    case 'member.left':
      delete replica.members[data.userId];
      delete replica.receipts[data.userId];
      if (data.userId === replica.viewerId) Object.assign(replica, { left: true, members: {}, receipts: {} });
      break;
    case 'conversation.updated':
      replica.title = data.title;
      replica.description = data.description;
      break;
    case 'conversation.settings':
      replica.settings = { muted: data.muted, mutedUntil: data.mutedUntil, notify: data.notify, archived: data.archived, pinned: data.pinned };
      break;
    default:
      throw new Error(`no rule for the logged event ${frame.type}`);
  }
  return true;
}

/**
 * What the two views must agree on. A former member's REST view shows the conversation's current
 * title and description (known, left alone), while the replica keeps those it had when it left.
 */
export function comparable(replica: ConversationReplica): Partial<ConversationReplica> {
  if (!replica.left) return replica;
  const { title: _title, description: _description, ...rest } = replica;
  return rest;
}
