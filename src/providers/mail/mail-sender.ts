/** One outgoing mail, always sent as multipart/alternative (text + html). */
export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  html: string;
}

/**
 * Sends mail. Failures are AppErrors: MAIL_DELIVERY_FAILED when the server refused the message,
 * PROVIDER_UNAVAILABLE when it could not be reached or did not answer in time.
 * `close()` releases connections; call it once at shutdown.
 */
export interface MailSender {
  readonly name: 'console' | 'smtp';
  send(message: MailMessage): Promise<void>;
  close(): Promise<void>;
}
