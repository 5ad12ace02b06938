import { randomBytes } from 'node:crypto';
import { and, count, eq, sql } from 'drizzle-orm';
import type { LightMyRequestResponse } from 'fastify';
import type { Test } from 'tap';
import type { App } from '../../../src/app.js';
import { messagePins, messageReactions, messageVersions, messages } from '../../../src/db/schema.js';
import { problemOf } from '../../helper.js';
import { type Account, call, expectStatus } from '../../support/accounts.js';
import { type MessageBody, newClientId } from '../../support/chat.js';

/*
 * Helpers of the message tests. Database access is for arranging (moving a message into the past)
 * and for counting rows the API does not expose (versions, reactions, pins of a tombstone).
 */

/** Asserts the status and the problem code of an error answer. */
export function expectProblem(t: Test, response: LightMyRequestResponse, status: number, code: string, what = code): void {
  t.equal(response.statusCode, status, `${what}: status ${status}`);
  if (response.statusCode === status) t.equal(problemOf(t, response).code, code, `${what}: code`);
  else t.fail(`${what}: got ${response.body}`);
}

/** POST /message with any payload (defaults: a fresh clientId, type text); the raw response. */
export function postMessage(app: App, from: Account, payload: Record<string, unknown>): Promise<LightMyRequestResponse> {
  return call(app, 'POST', '/message', { token: from.accessToken, payload: { clientId: newClientId(), type: 'text', ...payload } });
}

export async function getMessage(app: App, reader: Account, id: string): Promise<MessageBody> {
  return expectStatus<MessageBody>(await call(app, 'GET', `/message/${id}`, { token: reader.accessToken }), 200, `GET /message/${id}`);
}

/** Rows stored for a conversation (every message, tombstones included). */
export async function storedMessages(app: App, conversationId: string): Promise<number> {
  const [row] = await app.db.select({ n: count() }).from(messages).where(eq(messages.conversationId, conversationId));
  return Number(row?.n ?? 0);
}

/** Rows stored by one sender under one clientId. */
export async function rowsForClientId(app: App, senderId: string, clientId: string): Promise<number> {
  const [row] = await app.db.select({ n: count() }).from(messages).where(and(eq(messages.senderId, senderId), eq(messages.clientId, clientId)));
  return Number(row?.n ?? 0);
}

/** Versions, reaction rows and pins still held for a message. */
export async function satelliteRows(app: App, messageId: string): Promise<{ versions: number; reactions: number; pins: number }> {
  const [v] = await app.db.select({ n: count() }).from(messageVersions).where(eq(messageVersions.messageId, messageId));
  const [r] = await app.db.select({ n: count() }).from(messageReactions).where(eq(messageReactions.messageId, messageId));
  const [p] = await app.db.select({ n: count() }).from(messagePins).where(eq(messagePins.messageId, messageId));
  return { versions: Number(v?.n ?? 0), reactions: Number(r?.n ?? 0), pins: Number(p?.n ?? 0) };
}

/** Test setup: the message was sent `seconds` ago (the clock is not waited out). */
export async function backdate(app: App, messageId: string, seconds: number): Promise<void> {
  await app.db
    .update(messages)
    .set({ createdAt: sql`now() - make_interval(secs => ${seconds})` })
    .where(eq(messages.id, messageId));
}

export async function unblock(app: App, blocker: Account, blocked: Account): Promise<void> {
  expectStatus(await call(app, 'DELETE', `/users/${blocked.user.id}/block`, { token: blocker.accessToken }), 204, 'unblock');
}

/** The member leaves the group (DELETE /chat/:id/members/<self>). */
export async function leave(app: App, member: Account, conversationId: string): Promise<void> {
  expectStatus(await call(app, 'DELETE', `/chat/${conversationId}/members/${member.user.id}`, { token: member.accessToken }), 204, 'leave');
}

export async function makeAdmin(app: App, owner: Account, conversationId: string, userId: string): Promise<void> {
  const response = await call(app, 'PATCH', `/chat/${conversationId}/members/${userId}`, { token: owner.accessToken, payload: { role: 'admin' } });
  expectStatus(response, 200, 'make admin');
}

/** DELETE /message/:id with an optional `for`; the raw response. */
export function deleteMessage(app: App, actor: Account, id: string, forWhom?: 'me' | 'everyone'): Promise<LightMyRequestResponse> {
  return call(app, 'DELETE', `/message/${id}${forWhom ? `?for=${forWhom}` : ''}`, { token: actor.accessToken });
}

/** A lowercase word no other message of the run contains. */
export function uniqueWord(): string {
  return `zq${[...randomBytes(8)].map((b) => String.fromCharCode(97 + (b % 26))).join('')}`;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export const seqsOf = (items: Array<{ seq: number }>) => items.map((m) => m.seq);
export const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
