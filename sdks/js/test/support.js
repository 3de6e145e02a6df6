// Where the suite's servers are: set by tests/sdks/conftest.py of the MailPass repository.
import { MailPass } from '../index.js';

export const MISSING = ['MAILPASS_BASE_URL', 'MAILPASS_TEST_KEY', 'MAILPASS_FAKE_URL'].filter((n) => !process.env[n]);
export const skipLive = MISSING.length ? `not set: ${MISSING.join(', ')} (tests/sdks sets them)` : false;

export function live(keyName = 'MAILPASS_TEST_KEY', options = {}) {
  return new MailPass(process.env[keyName], { backoff: 10, ...options });
}

export function fake(script, options = {}) {
  const key = `${script}~${globalThis.crypto.randomUUID()}`;
  return [new MailPass(key, { baseUrl: process.env.MAILPASS_FAKE_URL, backoff: 10, ...options }), key];
}

export async function attempts(key) {
  const response = await fetch(`${process.env.MAILPASS_FAKE_URL}/_log/${encodeURIComponent(key)}`);
  return response.json();
}

export function address(name) {
  return `${name}-${globalThis.crypto.randomUUID().slice(0, 8)}@example.com`;
}

export const MESSAGE = { to: 'a@example.com', subject: 's', text: 't' };
