/** Why a one-time code was sent; picks the wording of the message. */
export type OtpPurpose = 'register' | 'login' | 'passwordless' | 'reset_password' | 'change_email' | 'change_phone' | 'delete_account';

const APP_NAME = 'Chat';

/** What the code is, as it reads after "Your Chat …". */
const LABELS: Record<OtpPurpose, string> = {
  register: 'verification code',
  login: 'sign-in code',
  passwordless: 'sign-in code',
  reset_password: 'password reset code',
  change_email: 'code to confirm your new email address',
  change_phone: 'code to confirm your new phone number',
  delete_account: 'code to confirm the deletion of your account',
};

function minutes(count: number): string {
  return count === 1 ? '1 minute' : `${count} minutes`;
}

function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** One line, short enough for a single SMS segment. */
export function otpSms(code: string, purpose: OtpPurpose, ttlMinutes: number): string {
  return `Your ${APP_NAME} ${LABELS[purpose]} is ${code}. It expires in ${minutes(ttlMinutes)}. Don't share it.`;
}

/**
 * The subject never contains the code: lock-screen notifications show subjects to anyone nearby.
 * The code is the only variable part of the html and is escaped anyway.
 */
export function otpMail(code: string, purpose: OtpPurpose, ttlMinutes: number): { subject: string; text: string; html: string } {
  const label = LABELS[purpose];
  const ignore = "If you didn't ask for this code, you can ignore this email.";
  const text = [otpSms(code, purpose, ttlMinutes), '', ignore, ''].join('\n');
  const html = [
    '<!doctype html>',
    '<html><body style="font-family:sans-serif;line-height:1.5;color:#222">',
    `<p>Your ${APP_NAME} ${escapeHtml(label)} is:</p>`,
    `<p style="font-family:monospace;font-size:28px;letter-spacing:4px;font-weight:bold">${escapeHtml(code)}</p>`,
    `<p>It expires in ${minutes(ttlMinutes)}. Don't share it with anyone.</p>`,
    `<p style="color:#666;font-size:13px">${escapeHtml(ignore)}</p>`,
    '</body></html>',
  ].join('\n');
  return { subject: `Your ${APP_NAME} ${label}`, text, html };
}
