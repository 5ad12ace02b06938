import type { Bus, Unsubscribe } from '../bus/bus.js';
import { BROADCAST_CHANNEL, type ChatEvent, type NoticeEvent, type SessionsRevokedEvent, type StreamEvent, conversationChannel, eventFrame, userChannel } from '../events/chat-events.js';
import { presenceChannel } from './presence.js';


/** What the hub needs of a socket connection. */
export interface HubConnection {
  readonly userId: string;
  /** Whether membership changes of this user's conversations re-route this socket (/ws), or it is fixed to one room. */
  readonly followsUser: boolean;
  /**
   * An event of a followed conversation, or one about the user from their own channel; `frame` is the
   * event serialized once for every socket of the instance. Events with a seq may come twice (both
   * channels): the socket delivers each seq once. The user's own `member.left` ends the conversation.
   */
  deliver(event: ChatEvent, frame: string): void;
  /** The user joined a conversation (at `seq`): delivery starts from the beginning of what they may see. */
  joined(conversationId: string, seq?: number): void;
  /** Reads from the log what the socket has not had of a conversation, to the log's end. */
  catchUp(conversationId: string): void;
  /** An event of the user's own stream (from their channel) or of the announcements (broadcast). */
  deliverStream(event: StreamEvent): void;
  /** Sessions of this socket's user ended (logout, logout-all, password change, ban). */
  sessionsRevoked(sessionIds: readonly string[]): void;
}

/**
 * Per-instance routing from bus channels to local sockets. A channel is subscribed when its first
 * local socket needs it and unsubscribed with the last (the bus shares one transport subscription).
 * `conversation:<id>` carries a conversation's events; `user:<id>` re-routes a user's /ws sockets when
 * they join or leave conversations and carries notices for that user; BROADCAST_CHANNEL carries notices
 * for every socket, subscribed while this instance has any.
 */
export function createHub(bus: Bus, onError: (error: unknown, context: string) => void) {
  const byConversation = new Map<string, Set<HubConnection>>();
  const byUser = new Map<string, Set<HubConnection>>();
  const watchers = new Map<string, Set<HubConnection>>();
  const subscriptions = new Map<string, Promise<Unsubscribe | undefined>>();

  function subscribe(channel: string, handler: (message: unknown) => void): Promise<unknown> {
    let subscription = subscriptions.get(channel);
    if (!subscription) {
      subscription = bus.subscribe(channel, handler).catch((error: unknown) => {
        onError(error, `subscribe ${channel}`);
        subscriptions.delete(channel);
        return undefined;
      });
      subscriptions.set(channel, subscription);
    }
    return subscription;
  }

  function unsubscribe(channel: string): void {
    const subscription = subscriptions.get(channel);
    subscriptions.delete(channel);
    void subscription?.then((stop) => stop?.()).catch((error: unknown) => onError(error, `unsubscribe ${channel}`));
  }

  function onConversationEvent(message: unknown): void {
    const event = message as ChatEvent;
    const sockets = byConversation.get(event.conversationId);
    if (!sockets) return;
    const frame = eventFrame(event);
    for (const socket of [...sockets]) socket.deliver(event, frame);
  }

  /** A notice goes to the given sockets as it is (user channel: that user's; broadcast: everyone's). */
  function deliverNotice(event: NoticeEvent, sockets: Iterable<HubConnection>): void {
    const frame = JSON.stringify(event.frame);
    for (const socket of [...sockets]) socket.deliver(event.frame as unknown as ChatEvent, frame);
  }

  const isStreamEvent = (event: object): event is StreamEvent => 'stream' in event;

  /** Every socket of the instance: notices, and the announcements stream. */
  function onBroadcast(event: NoticeEvent | StreamEvent): void {
    const sockets = [...byUser.values()].flatMap((set) => [...set]);
    if (isStreamEvent(event)) for (const socket of sockets) socket.deliverStream(event);
    else deliverNotice(event, sockets);
  }

  /** A user's own channel: their stream; follow a conversation they joined, stop following one they left. */
  function onUserEvent(userId: string, event: ChatEvent | SessionsRevokedEvent | NoticeEvent | StreamEvent): void {
    if (isStreamEvent(event)) {
      for (const socket of [...(byUser.get(userId) ?? [])]) socket.deliverStream(event);
      return;
    }
    if (event.type === 'notice') return deliverNotice(event, byUser.get(userId) ?? []);
    if (event.type === 'session.revoked') {
      for (const socket of [...(byUser.get(userId) ?? [])]) socket.sessionsRevoked(event.data.sessionIds);
      return;
    }
    const sockets = [...(byUser.get(userId) ?? [])].filter((s) => s.followsUser);
    const data = event.data as { userId?: string };
    const aboutThisUser = event.type === 'conversation.created' || event.type === 'conversation.settings' || data.userId === userId;
    if (!aboutThisUser) return;
    const frame = eventFrame(event);
    for (const socket of sockets) {
      const following = byConversation.get(event.conversationId)?.has(socket) ?? false;
      // A join of this user, even on a socket still following (its leave may not have arrived yet).
      if (event.type === 'member.joined' || (!following && event.type === 'conversation.created')) {
        // Messages sent between the join and the subscription are read from the log once it is active.
        socket.joined(event.conversationId, event.seq);
        void hub.follow(socket, event.conversationId).then(() => socket.catchUp(event.conversationId));
      }
      // Those following have events with a seq from the conversation channel too; the socket keeps one of each.
      if (!following || event.seq !== undefined) socket.deliver(event, frame);
      if (event.type === 'member.left') void hub.unfollow(socket, event.conversationId);
    }
  }

  const hub = {
    /** Registers a socket of a user; resolves once the user's channel is subscribed. */
    async addConnection(socket: HubConnection): Promise<void> {
      let set = byUser.get(socket.userId);
      if (!set) byUser.set(socket.userId, (set = new Set()));
      set.add(socket);
      await Promise.all([
        subscribe(userChannel(socket.userId), (message) => onUserEvent(socket.userId, message as ChatEvent | SessionsRevokedEvent | NoticeEvent | StreamEvent)),
        subscribe(BROADCAST_CHANNEL, (message) => onBroadcast(message as NoticeEvent | StreamEvent)),
      ]);
    },

    /** Starts delivering a conversation's events to the socket; resolves once they flow. */
    async follow(socket: HubConnection, conversationId: string): Promise<void> {
      let set = byConversation.get(conversationId);
      if (!set) byConversation.set(conversationId, (set = new Set()));
      set.add(socket);
      await subscribe(conversationChannel(conversationId), onConversationEvent);
    },

    async unfollow(socket: HubConnection, conversationId: string): Promise<void> {
      const set = byConversation.get(conversationId);
      if (!set?.delete(socket) || set.size > 0) return;
      byConversation.delete(conversationId);
      unsubscribe(conversationChannel(conversationId));
    },

    /** Delivers `presence` of `userId` to the socket (presence:<userId>, shared by this instance's watchers). */
    async watchPresence(socket: HubConnection, userId: string): Promise<void> {
      let set = watchers.get(userId);
      if (!set) watchers.set(userId, (set = new Set()));
      set.add(socket);
      await subscribe(presenceChannel(userId), (message) => {
        const frame = JSON.stringify(message);
        for (const watcher of [...(watchers.get(userId) ?? [])]) watcher.deliver(message as ChatEvent, frame);
      });
    },

    unwatchPresence(socket: HubConnection, userIds: Iterable<string>): void {
      for (const userId of userIds) {
        const set = watchers.get(userId);
        if (!set?.delete(socket) || set.size > 0) continue;
        watchers.delete(userId);
        unsubscribe(presenceChannel(userId));
      }
    },

    /** Forgets a closed socket and drops the channels nobody here needs any more. */
    removeConnection(socket: HubConnection, conversationIds: Iterable<string>): void {
      for (const id of conversationIds) void hub.unfollow(socket, id);
      const set = byUser.get(socket.userId);
      if (!set?.delete(socket) || set.size > 0) return;
      byUser.delete(socket.userId);
      if (subscriptions.has(userChannel(socket.userId))) unsubscribe(userChannel(socket.userId));
      if (byUser.size === 0 && subscriptions.has(BROADCAST_CHANNEL)) unsubscribe(BROADCAST_CHANNEL);
    },
  };
  return hub;
}

export type Hub = ReturnType<typeof createHub>;
