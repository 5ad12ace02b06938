import type { App } from '../../src/app.js';
import { type Account, call } from './accounts.js';
import type { Frame } from './ws-client.js';

/* A client of GET /sync and the REST writes the offline tests make, as an app would call them. */

export interface SyncAnswer {
  items: Array<Frame & { conversationId?: string; stream?: string; seq?: number }>;
  conversations: Array<{ id: string }>;
  nextToken: string;
  more: boolean;
}

export async function getSync(app: App, account: Account, query: string): Promise<SyncAnswer> {
  const response = await call(app, 'GET', `/sync${query ? `?${query}` : ''}`, { token: account.accessToken });
  if (response.statusCode !== 200) throw new Error(`GET /sync?${query}: ${response.statusCode} ${response.body}`);
  return response.json() as SyncAnswer;
}

/** Follows GET /sync from `token` until nothing more waits; `apply` says whether an item was one of those it keeps. Returns the kept items and the last token. */
export async function syncAll(app: App, account: Account, token: string, limit: number, apply: (item: SyncAnswer['items'][number]) => boolean): Promise<{ applied: Frame[]; token: string }> {
  const applied: Frame[] = [];
  for (let more = true; more; ) {
    const answer = await getSync(app, account, `since=${token}&limit=${limit}`);
    for (const item of answer.items) if (apply(item)) applied.push(item);
    token = answer.nextToken;
    more = answer.more;
  }
  return { applied, token };
}

/** A REST write that must succeed; answers its JSON body (null when empty). */
export async function rest(app: App, account: Account, method: 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, payload?: Record<string, unknown>): Promise<any> {
  const response = await call(app, method, path, { token: account.accessToken, ...(payload ? { payload } : {}) });
  if (response.statusCode >= 300) throw new Error(`${method} ${path}: ${response.statusCode} ${response.body}`);
  return response.body ? response.json() : null;
}
