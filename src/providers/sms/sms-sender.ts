/**
 * Sends one text message. `to` is an E.164 number (+15551234567), already validated by the caller.
 * Failures are AppErrors: SMS_DELIVERY_FAILED when the provider refused the message,
 * PROVIDER_UNAVAILABLE when it could not be reached or did not answer in time. Neither carries
 * credentials or the message text.
 */
export interface SmsSender {
  readonly name: 'console' | 'twilio';
  send(to: string, text: string): Promise<void>;
}
