// The official JavaScript client for the MailPass transactional email API.
// Zero dependencies: the global fetch of Node.js 18+ and browsers.

export const VERSION = '0.1.0';
const BASE_URL_ENV = 'MAILPASS_BASE_URL';
const MAX_RETRY_AFTER = 60; // seconds; a longer Retry-After is thrown, not waited for
const MAX_BACKOFF = 8000; // ms
const EXCERPT_CHARS = 200;

/** The root of everything this library throws. */
export class MailPassError extends Error {
  constructor(message) {
    super(message);
    this.name = new.target.name;
  }
}

/** The API answered with an error; `code` chose the subclass. */
export class MailPassApiError extends MailPassError {
  constructor(message, { code, status, details = {}, retryAfter = null }) {
    super(message);
    this.code = code;
    this.status = status;
    this.details = details;
    this.retryAfter = retryAfter;
  }

  /** The message the error is about, where the API names one. */
  get messageId() {
    return typeof this.details.message_id === 'string' ? this.details.message_id : null;
  }
}

/** No answer: refused, reset, dropped. */
export class MailPassNetworkError extends MailPassError {}
/** No answer within the timeout. */
export class MailPassTimeoutError extends MailPassNetworkError {}
/** The client was built wrong. */
export class MailPassConfigurationError extends MailPassError {}

export class ValidationError extends MailPassApiError {}
export class UnauthorizedError extends MailPassApiError {}
export class ForbiddenError extends MailPassApiError {}
export class NotFoundError extends MailPassApiError {}
export class IdempotencyConflictError extends MailPassApiError {}
export class PayloadTooLargeError extends MailPassApiError {}
export class NoSmtpProviderError extends MailPassApiError {}
export class RecipientSuppressedError extends MailPassApiError {}
export class SendLimitExceededError extends MailPassApiError {}
export class RateLimitedError extends MailPassApiError {}
export class SendFailedError extends MailPassApiError {}
export class InternalServerError extends MailPassApiError {}
export class UnavailableError extends MailPassApiError {}
export class MessageNotScheduledError extends MailPassApiError {}
export class TemplateInUseError extends MailPassApiError {}
export class WebhookDisabledError extends MailPassApiError {}
/** 422: the From address's domain (details.domain) is not a verified sender domain of the account. */
export class DomainNotVerifiedError extends MailPassApiError {}

/** verifyWebhook: the request is not a genuine, recent MailPass webhook (answer it 400). */
export class WebhookVerificationError extends MailPassError {}

export const ERRORS_BY_CODE = Object.freeze({
  VALIDATION_ERROR: ValidationError,
  UNAUTHORIZED: UnauthorizedError,
  FORBIDDEN: ForbiddenError,
  NOT_FOUND: NotFoundError,
  IDEMPOTENCY_CONFLICT: IdempotencyConflictError,
  PAYLOAD_TOO_LARGE: PayloadTooLargeError,
  NO_SMTP_PROVIDER: NoSmtpProviderError,
  RECIPIENT_SUPPRESSED: RecipientSuppressedError,
  SEND_LIMIT_EXCEEDED: SendLimitExceededError,
  RATE_LIMITED: RateLimitedError,
  SEND_FAILED: SendFailedError,
  INTERNAL_ERROR: InternalServerError,
  UNAVAILABLE: UnavailableError,
  MESSAGE_NOT_SCHEDULED: MessageNotScheduledError,
  TEMPLATE_IN_USE: TemplateInUseError,
  WEBHOOK_DISABLED: WebhookDisabledError,
  DOMAIN_NOT_VERIFIED: DomainNotVerifiedError,
});

/** The event types a webhook endpoint can ask for; the posted `type` is `email.<name>`. */
export const WEBHOOK_EVENTS = Object.freeze([
  'sent', 'delivered', 'bounced', 'failed', 'complained', 'unsubscribed',
  'opened', 'clicked', 'suppressed', 'scheduled', 'cancelled',
]);

/**
 * The file at `path` (a string or a file: URL) as an attachment named like the file.
 * Node.js only: it reads with node:fs, loaded on first use so that browsers never need it.
 * A file that cannot be read rejects with fs's own error (ENOENT, EISDIR, EACCES).
 * @param {string | URL} path
 * @param {{contentType?: string, contentId?: string}} [options] contentType: e.g.
 *   'application/pdf', guessed by the server from the name when left out; contentId: e.g.
 *   'logo', which makes the attachment inline, shown by the HTML as <img src="cid:logo">
 */
export async function attachmentFromPath(path, options = {}) {
  let fs, nodePath, nodeUrl;
  try {
    [fs, nodePath, nodeUrl] = await Promise.all([import('node:fs/promises'), import('node:path'), import('node:url')]);
  } catch {
    throw new Error('attachmentFromPath reads a file, which needs Node.js: elsewhere, use attachmentFromBytes.');
  }
  const file = path instanceof URL ? nodeUrl.fileURLToPath(path) : path;
  return attachmentFromBytes(nodePath.basename(file), await fs.readFile(file), options);
}

/**
 * Bytes you already hold (a Buffer, a Uint8Array, an ArrayBuffer) as an attachment.
 * @param {string} filename the name the recipient sees, e.g. 'invoice.pdf'
 * @param {Uint8Array | ArrayBuffer | ArrayBufferView} data
 * @param {{contentType?: string, contentId?: string}} [options] as for attachmentFromPath
 */
export function attachmentFromBytes(filename, data, { contentType, contentId } = {}) {
  const attachment = { filename, content: base64(bytesOf(data)) };
  if (contentType !== undefined && contentType !== null) attachment.content_type = contentType;
  if (contentId !== undefined && contentId !== null) attachment.content_id = contentId;
  return attachment;
}

export class MailPass {
  #apiKey;
  #baseUrl;
  #timeout;
  #maxRetries;
  #retryOnSendLimit;
  #backoff;
  #fetch;

  /**
   * @param {string} apiKey a key from Dashboard > API Keys
   * @param {object} [options] baseUrl (default: MAILPASS_BASE_URL), timeout (ms, 30000),
   *   maxRetries (2), retryOnSendLimit (false), fetch (default: the global one)
   */
  constructor(apiKey, options = {}) {
    if (typeof apiKey !== 'string' || apiKey.trim() === '') {
      throw new MailPassConfigurationError(
        'The MailPass API key is empty: pass the key from Dashboard > API Keys.'
      );
    }
    const env = typeof process !== 'undefined' && process.env ? process.env[BASE_URL_ENV] : undefined;
    const baseUrl = String(options.baseUrl || env || '').trim().replace(/\/+$/, '');
    if (!baseUrl) {
      throw new MailPassConfigurationError(
        `No MailPass base URL: pass the baseUrl option (e.g. https://mail.example.com) or set the ${BASE_URL_ENV} environment variable.`
      );
    }
    if (!/^https?:\/\//i.test(baseUrl)) {
      throw new MailPassConfigurationError(`The MailPass base URL "${baseUrl}" is not an http(s) URL.`);
    }
    const { timeout = 30000, maxRetries = 2, retryOnSendLimit = false, backoff = 500 } = options;
    if (!(timeout > 0)) throw new MailPassConfigurationError('timeout must be a number of milliseconds above 0.');
    if (!Number.isInteger(maxRetries) || maxRetries < 0) {
      throw new MailPassConfigurationError('maxRetries must be an integer, 0 or more.');
    }
    const fetchImpl = options.fetch ?? globalThis.fetch;
    if (typeof fetchImpl !== 'function') {
      throw new MailPassConfigurationError('No fetch: use Node.js 18 or later, or pass the fetch option.');
    }
    this.#apiKey = apiKey.trim();
    this.#baseUrl = baseUrl;
    this.#timeout = timeout;
    this.#maxRetries = maxRetries;
    this.#retryOnSendLimit = Boolean(retryOnSendLimit);
    this.#backoff = backoff;
    this.#fetch = fetchImpl;
    const request = (method, path, init) => this.#request(method, path, init);
    /** /api/v1/mail */
    this.mail = Object.freeze({
      send: async (params, opts = {}) =>
        request('POST', '/api/v1/mail/send', {
          body: withSchedule(params),
          idempotencyKey: idempotencyKey(opts),
          signal: opts.signal,
        }),
      sendBatch: async (params, opts = {}) =>
        request('POST', '/api/v1/mail/send-batch', {
          body: batchWithSchedules(params),
          idempotencyKey: idempotencyKey(opts),
          signal: opts.signal,
        }),
      status: async (messageId, params, opts = {}) =>
        request('GET', '/api/v1/mail/status/' + messageSegment(messageId), { query: params, signal: opts.signal }),
      // Both are safe to retry: cancelling twice and rescheduling to the same time answer as the first call did.
      cancel: async (messageId, opts = {}) =>
        request('POST', `/api/v1/mail/${messageSegment(messageId)}/cancel`, { signal: opts.signal }),
      reschedule: async (messageId, scheduledAt, opts = {}) =>
        request('PATCH', '/api/v1/mail/' + messageSegment(messageId), {
          body: { scheduled_at: isoDateTime(scheduledAt, 'scheduledAt') },
          signal: opts.signal,
        }),
    });
    /** /api/v1/suppressions */
    this.suppressions = Object.freeze({
      list: (params, opts = {}) => request('GET', '/api/v1/suppressions', { query: params, signal: opts.signal }),
      add: (params, opts = {}) =>
        request('POST', '/api/v1/suppressions', {
          body: typeof params === 'string' ? { email: params } : params,
          signal: opts.signal,
        }),
      remove: (email, opts = {}) =>
        request('DELETE', '/api/v1/suppressions/' + encodeURIComponent(email), { signal: opts.signal }),
    });
    /** /api/v1/templates */
    this.templates = Object.freeze({
      list: (params, opts = {}) =>
        request('GET', '/api/v1/templates', {
          query: typeof params === 'number' ? { page: params } : params,
          signal: opts.signal,
        }),
      create: (params, opts = {}) => request('POST', '/api/v1/templates', { body: params, signal: opts.signal }),
      get: async (idOrAlias, version, opts = {}) =>
        request('GET', '/api/v1/templates/' + templateSegment(idOrAlias), {
          query: { version },
          signal: opts.signal,
        }),
      update: async (idOrAlias, params, opts = {}) =>
        request('PATCH', '/api/v1/templates/' + templateSegment(idOrAlias), { body: params, signal: opts.signal }),
      delete: async (idOrAlias, opts = {}) =>
        request('DELETE', '/api/v1/templates/' + templateSegment(idOrAlias), { signal: opts.signal }),
      render: async (idOrAlias, variables, version, opts = {}) => {
        const body = {};
        if (variables !== undefined && variables !== null) body.variables = variables;
        if (version !== undefined && version !== null) body.version = version;
        return request('POST', `/api/v1/templates/${templateSegment(idOrAlias)}/render`, { body, signal: opts.signal });
      },
    });
    /** /api/v1/webhooks: the account's endpoints and their deliveries (key permission `webhooks`) */
    const hook = (id) => '/api/v1/webhooks/' + webhookSegment(id, 'webhook id');
    this.webhooks = Object.freeze({
      list: (params, opts = {}) =>
        request('GET', '/api/v1/webhooks', {
          query: typeof params === 'number' ? { page: params } : params,
          signal: opts.signal,
        }),
      create: (params, opts = {}) => request('POST', '/api/v1/webhooks', { body: params, signal: opts.signal }),
      get: async (id, opts = {}) => request('GET', hook(id), { signal: opts.signal }),
      update: async (id, params, opts = {}) => request('PATCH', hook(id), { body: params, signal: opts.signal }),
      delete: async (id, opts = {}) => request('DELETE', hook(id), { signal: opts.signal }),
      rotateSecret: async (id, overlapHours, opts = {}) =>
        request('POST', hook(id) + '/rotate-secret', {
          body: overlapHours === undefined || overlapHours === null ? {} : { overlap_hours: overlapHours },
          signal: opts.signal,
        }),
      deliveries: async (id, params, opts = {}) =>
        request('GET', hook(id) + '/deliveries', {
          query: typeof params === 'number' ? { page: params } : params,
          signal: opts.signal,
        }),
      retryDelivery: async (id, deliveryId, opts = {}) =>
        request('POST', `${hook(id)}/deliveries/${webhookSegment(deliveryId, 'delivery id')}/retry`, {
          signal: opts.signal,
        }),
      test: async (id, opts = {}) => request('POST', hook(id) + '/test', { signal: opts.signal }),
    });
    /** /api/v1/domains: the account's sender domains and their DNS records (key permission `domains`) */
    const domain = (idOrName) => '/api/v1/domains/' + keySegment(idOrName, 'a domain', 'name');
    this.domains = Object.freeze({
      list: (params, opts = {}) =>
        request('GET', '/api/v1/domains', {
          query: typeof params === 'number' ? { page: params } : params,
          signal: opts.signal,
        }),
      create: (params, opts = {}) =>
        request('POST', '/api/v1/domains', {
          body: typeof params === 'string' ? { name: params } : params,
          signal: opts.signal,
        }),
      get: async (idOrName, opts = {}) => request('GET', domain(idOrName), { signal: opts.signal }),
      delete: async (idOrName, opts = {}) => request('DELETE', domain(idOrName), { signal: opts.signal }),
      verify: async (idOrName, opts = {}) => request('POST', domain(idOrName) + '/verify', { signal: opts.signal }),
      // Rotating while a rotation is pending answers the same pending keys: safe to retry.
      rotate: async (idOrName, ed25519, opts = {}) =>
        request('POST', domain(idOrName) + '/rotate', {
          body: ed25519 === undefined || ed25519 === null ? {} : { ed25519 },
          signal: opts.signal,
        }),
    });
  }

  get baseUrl() {
    return this.#baseUrl;
  }

  toJSON() {
    return { baseUrl: this.#baseUrl, apiKey: '[hidden]' };
  }

  [Symbol.for('nodejs.util.inspect.custom')]() {
    return `MailPass { baseUrl: '${this.#baseUrl}', apiKey: '[hidden]' }`;
  }

  async #request(method, path, { body, query, idempotencyKey, signal } = {}) {
    let url = this.#baseUrl + path;
    if (query) {
      const search = new URLSearchParams();
      for (const [name, value] of Object.entries(query)) {
        if (value !== undefined && value !== null) search.append(name, String(value));
      }
      if ([...search].length) url += '?' + search;
    }
    const headers = { Authorization: `Bearer ${this.#apiKey}`, Accept: 'application/json' };
    if (typeof window === 'undefined') headers['User-Agent'] = `mailpass-js/${VERSION}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (idempotencyKey) headers['Idempotency-Key'] = idempotencyKey;
    const payload = body === undefined ? undefined : JSON.stringify(body);

    for (let attempt = 0; ; attempt++) {
      let error;
      try {
        return await this.#once(method, url, path, headers, payload, signal);
      } catch (caught) {
        if (!(caught instanceof MailPassError)) throw caught;
        error = caught;
      }
      const wait = this.#retryWait(error, attempt);
      if (wait === null || signal?.aborted) throw error;
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }

  async #once(method, url, path, headers, payload, signal) {
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, this.#timeout);
    const onAbort = () => controller.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      let response;
      let text;
      try {
        response = await this.#fetch(url, { method, headers, body: payload, signal: controller.signal, redirect: 'error' });
        text = await response.text();
      } catch (cause) {
        if (timedOut) {
          throw new MailPassTimeoutError(`MailPass did not answer within ${this.#timeout} ms (${method} ${path})`);
        }
        if (signal?.aborted) throw cause;
        throw new MailPassNetworkError(`could not reach MailPass at ${this.#baseUrl}: ${describe(cause)}`);
      }
      return decode(response, text);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  #retryWait(error, attempt) {
    if (attempt >= this.#maxRetries || !retryable(error, this.#retryOnSendLimit)) return null;
    const backoff = Math.min(this.#backoff * 2 ** attempt, MAX_BACKOFF);
    const jittered = backoff / 2 + Math.random() * (backoff / 2);
    const retryAfter = error.retryAfter ?? null;
    if (retryAfter !== null) {
      if (retryAfter > MAX_RETRY_AFTER) return null;
      return Math.max(jittered, retryAfter * 1000);
    }
    return jittered;
  }
}

function idempotencyKey(opts) {
  return opts.idempotencyKey ?? globalThis.crypto.randomUUID();
}

// One path segment. '.' and '..' cannot be sent as one: URLs resolve them (even encoded as
// %2E) against the path, so that templates.delete('..') would go to /api/v1/. No message id,
// alias or domain name is either.
function segment(value) {
  if (value === '.' || value === '..') throw new TypeError(`"${value}" cannot be a message id, a template id, an alias or a domain`);
  return encodeURIComponent(value);
}

// A message id with or without its angle brackets.
function messageSegment(messageId) {
  const id = String(messageId ?? '').trim().replace(/^<|>$/g, '');
  if (!id) throw new TypeError('the message id is empty: pass the message_id that send answered');
  return segment(id);
}

function templateSegment(idOrAlias) {
  return keySegment(idOrAlias, 'a template', 'alias');
}

// A thing named by its id (an integer) or by a string of its own (a template's alias, a
// domain's name), as one path segment.
function keySegment(key, what, name) {
  const valid = typeof key === 'string' ? key.trim() !== '' : Number.isInteger(key);
  if (!valid) {
    throw new TypeError(`${what} is named by its id (an integer) or its ${name} (a string), not ${JSON.stringify(key) ?? typeof key}`);
  }
  return segment(String(key));
}

function webhookSegment(id, what) {
  if (!Number.isInteger(id) || id < 1) {
    throw new TypeError(`a ${what} is a positive integer, not ${JSON.stringify(id) ?? typeof id}`);
  }
  return String(id);
}

/**
 * For the application that receives MailPass's webhooks: check that a request comes from
 * MailPass, unchanged and recent, and return its event (the JSON body, parsed).
 *
 * MailPass signs the Standard Webhooks way: `webhook-id`, `webhook-timestamp` (Unix seconds)
 * and `webhook-signature`, space-separated `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`
 * entries keyed with the base64 part of the endpoint's secret after "whsec_" (two entries
 * while a rotated secret's predecessor still signs). Web Crypto only: Node.js 18+, browsers,
 * workers. Rejects with WebhookVerificationError for a request to refuse (answer it 400), and
 * with MailPassConfigurationError for a secret that is not a whsec_ one.
 *
 * @param {string | Uint8Array | ArrayBuffer} payload the raw body as received, never a
 *   JSON.stringify of the parsed one
 * @param {object | Headers | Iterable<[string, string]>} headers the request's headers, names
 *   in any case: Node's req.headers, a fetch Headers, or [name, value] pairs
 * @param {string} secret the endpoint's "whsec_…" secret, from webhooks.create or rotateSecret
 * @param {{tolerance?: number, now?: number}} [options] tolerance: seconds the timestamp may
 *   be off either way (300); now: Unix seconds to judge it by (tests)
 */
export async function verifyWebhook(payload, headers, secret, { tolerance = 300, now } = {}) {
  if (!(tolerance >= 0)) throw new MailPassConfigurationError('tolerance must be 0 seconds or more.');
  const key = webhookKey(secret);
  const body = typeof payload === 'string' ? new TextEncoder().encode(payload) : bytesOf(payload);
  const found = webhookHeaders(headers);
  const [id, timestamp, signatures] = [found['webhook-id'], found['webhook-timestamp'], found['webhook-signature']];
  if (!id || !timestamp || !signatures) {
    throw new WebhookVerificationError('A webhook-id, webhook-timestamp or webhook-signature header is missing.');
  }
  if (!/^[0-9]{1,12}$/.test(timestamp)) {
    throw new WebhookVerificationError(`The webhook-timestamp header is not a Unix time in seconds: ${JSON.stringify(timestamp)}.`);
  }
  const age = (now ?? Date.now() / 1000) - Number(timestamp);
  if (Math.abs(age) > tolerance) {
    throw new WebhookVerificationError(
      age > 0 ? `The webhook is too old: ${Math.round(age)} s (tolerance ${tolerance} s).` : `The webhook timestamp is ${Math.round(-age)} s in the future.`
    );
  }
  // Node.js 18 has Web Crypto under node:crypto only (global from Node.js 19).
  const subtle = globalThis.crypto?.subtle ?? (await import('node:crypto')).webcrypto.subtle;
  const hmacKey = await subtle.importKey('raw', key, { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
  const signed = concat(new TextEncoder().encode(`${id}.${timestamp}.`), body);
  let matched = false;
  for (const entry of signatures.split(' ')) {
    const [version, signature] = [entry.slice(0, entry.indexOf(',')), entry.slice(entry.indexOf(',') + 1)];
    const candidate = version === 'v1' ? fromBase64(signature) : null;
    // subtle.verify compares in constant time.
    if (candidate && (await subtle.verify('HMAC', hmacKey, candidate, signed))) matched = true;
  }
  if (!matched) {
    throw new WebhookVerificationError('No webhook signature matches the body with this secret: the body was changed, or the secret is not this endpoint\'s.');
  }
  let event;
  try {
    event = JSON.parse(new TextDecoder().decode(body));
  } catch {
    event = null;
  }
  if (event === null || typeof event !== 'object' || Array.isArray(event)) {
    throw new WebhookVerificationError('The webhook body is signed but is not a JSON object.');
  }
  return event;
}

function webhookKey(secret) {
  const encoded = typeof secret === 'string' ? secret.trim().replace(/^whsec_/, '') : '';
  const key = fromBase64(encoded);
  if (!key || key.length === 0) {
    throw new MailPassConfigurationError('The webhook secret is not a MailPass endpoint secret ("whsec_" and base64): use the one webhooks.create() or webhooks.rotateSecret() returned.');
  }
  return key;
}

// The three webhook headers, lower-case names, from the usual shapes; repeated values joined.
function webhookHeaders(headers) {
  const wanted = ['webhook-id', 'webhook-timestamp', 'webhook-signature'];
  const found = {};
  for (const [name, value] of headerPairs(headers)) {
    const lower = String(name).toLowerCase();
    if (!wanted.includes(lower) || value === undefined || value === null) continue;
    const text = Array.isArray(value) ? value.join(' ') : String(value);
    found[lower] = found[lower] === undefined ? text : `${found[lower]} ${text}`;
  }
  if (found['webhook-id']?.includes(' ') || found['webhook-timestamp']?.includes(' ')) {
    throw new WebhookVerificationError('The webhook-id or webhook-timestamp header is given twice.');
  }
  return found;
}

function headerPairs(headers) {
  if (headers === null || headers === undefined) return [];
  if (typeof headers.get === 'function' && typeof headers.entries === 'function') return headers.entries(); // fetch Headers
  if (Array.isArray(headers)) return headers; // [name, value] pairs
  return Object.entries(headers); // Node's req.headers, or any plain object
}

function fromBase64(text) {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text) || text.length % 4 === 1) return null;
  const binary = atob(text.padEnd(text.length + ((4 - (text.length % 4)) % 4), '='));
  return Uint8Array.from(binary, (char) => char.charCodeAt(0));
}

function concat(first, second) {
  const joined = new Uint8Array(first.length + second.length);
  joined.set(first, 0);
  joined.set(second, first.length);
  return joined;
}

/**
 * A Date as ISO 8601 in UTC ('2026-12-05T08:00:00Z', milliseconds only when there are some);
 * a string as given, for the server to check (it wants an offset: 'Z' or '+01:00').
 */
function isoDateTime(value, name) {
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new TypeError(`${name} is an invalid Date`);
    return value.toISOString().replace('.000Z', 'Z');
  }
  if (typeof value === 'string') return value;
  throw new TypeError(`${name} must be a Date or an ISO 8601 string with an offset (e.g. '2026-12-05T09:00:00+01:00'), not ${value === null ? 'null' : typeof value}`);
}

// A copy of a message whose scheduled_at, when a Date, is the ISO 8601 string the API reads.
function withSchedule(message) {
  if (message === null || typeof message !== 'object' || !(message.scheduled_at instanceof Date)) return message;
  return { ...message, scheduled_at: isoDateTime(message.scheduled_at, 'scheduled_at') };
}

function batchWithSchedules(params) {
  if (params === null || typeof params !== 'object' || !Array.isArray(params.messages)) return params;
  if (!params.messages.some((message) => message?.scheduled_at instanceof Date)) return params;
  return { ...params, messages: params.messages.map(withSchedule) };
}

function bytesOf(data) {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const hint = typeof data === 'string' ? ': encode text first, e.g. new TextEncoder().encode(text)' : '';
  throw new TypeError(`attachment data must be bytes (Uint8Array, Buffer or ArrayBuffer), not ${typeof data}${hint}`);
}

function base64(bytes) {
  if (typeof globalThis.Buffer === 'function') {
    return globalThis.Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
  }
  let binary = ''; // browsers: btoa wants one character per byte; in slices, for the call stack
  for (let start = 0; start < bytes.length; start += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(start, start + 0x8000));
  }
  return btoa(binary);
}

function retryable(error, retryOnSendLimit) {
  if (error instanceof MailPassNetworkError) return true;
  if (error instanceof RateLimitedError) return true;
  if (error instanceof SendLimitExceededError) return retryOnSendLimit;
  if (error instanceof SendFailedError) return false;
  return error instanceof MailPassApiError && error.status >= 500;
}

function describe(cause) {
  const inner = cause?.cause;
  return inner?.code || inner?.message || cause?.message || String(cause);
}

function excerpt(text) {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > EXCERPT_CHARS ? flat.slice(0, EXCERPT_CHARS) + '…' : flat;
}

function seconds(value) {
  if (value === null || value === undefined || value === '') return null;
  const number = Number(value);
  return Number.isFinite(number) && number >= 0 ? number : null;
}

function decode(response, text) {
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  const retryAfterHeader = seconds(response.headers.get('Retry-After'));
  if (response.ok) {
    if (json && typeof json === 'object') return json;
    // 204 No Content (domains.delete): no envelope to return, so the one for "done, no data".
    if (response.status === 204 && text.trim() === '') return { success: true, data: null };
    throw new MailPassApiError(`MailPass answered ${response.status} with something that is not JSON: ${excerpt(text)}`, {
      code: 'UNEXPECTED_RESPONSE',
      status: response.status,
    });
  }
  const error = json && typeof json === 'object' ? json.error : undefined;
  if (!error || typeof error.code !== 'string') {
    throw new MailPassApiError(`MailPass answered ${response.status} without its JSON error: ${excerpt(text)}`, {
      code: 'UNEXPECTED_RESPONSE',
      status: response.status,
      retryAfter: retryAfterHeader,
    });
  }
  const details = error.details && typeof error.details === 'object' ? error.details : {};
  const ErrorClass = ERRORS_BY_CODE[error.code] ?? MailPassApiError;
  throw new ErrorClass(String(error.message ?? ''), {
    code: error.code,
    status: response.status,
    details,
    retryAfter: retryAfterHeader ?? seconds(details.retry_after),
  });
}

export default MailPass;
