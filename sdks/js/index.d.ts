// Types of @mailpass/client. The request bodies use the API's own field names.

export declare const VERSION: string;

export type MetadataValue = string | number | boolean | null;

/** One entry of SendParams.attachments; attachmentFromPath and attachmentFromBytes build it. */
export interface Attachment {
  /** The name the recipient sees, e.g. 'invoice.pdf'. */
  filename: string;
  /** The file's bytes in base64. */
  content: string;
  /** e.g. 'application/pdf'; guessed by the server from the filename when left out. */
  content_type?: string;
  /** Makes the attachment inline: the HTML shows it with <img src="cid:…">. */
  content_id?: string;
}

export interface AttachmentOptions {
  /** e.g. 'application/pdf'; default: the server guesses from the filename. */
  contentType?: string;
  /** e.g. 'logo', for <img src="cid:logo"> in the HTML. */
  contentId?: string;
}

/** The file at `path` as an attachment named like the file. Node.js only. */
export declare function attachmentFromPath(path: string | URL, options?: AttachmentOptions): Promise<Attachment>;

/** Bytes you already hold as an attachment named `filename`. */
export declare function attachmentFromBytes(
  filename: string,
  data: Uint8Array | ArrayBuffer | ArrayBufferView,
  options?: AttachmentOptions
): Attachment;

/** A date-time for `scheduled_at`: a Date, or an ISO 8601 string with an offset ('Z', '+01:00'). */
export type DateTimeInput = Date | string;

/** JSON values, for template variables and defaults. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** The template a message is made from: by alias or by id, never both. */
export type TemplateRef = (
  | { alias: string; id?: never }
  | { id: number; alias?: never }
) & {
  /** The values for the template's variables; the template's defaults fill the rest. */
  variables?: Record<string, JsonValue>;
  /** Default: the template's latest version. */
  version?: number;
};

/** What every message takes, whether written out or made from a template. */
export interface MessageFields {
  to: string;
  from_email?: string;
  from_name?: string;
  reply_to?: string;
  cc?: string[];
  bcc?: string[];
  tags?: string[];
  metadata?: Record<string, MetadataValue>;
  track_opens?: boolean;
  track_clicks?: boolean;
  /** At most 20; program files (.exe, .js, .bat...) are refused. */
  attachments?: Attachment[];
  /** X-… headers, and In-Reply-To, References, List-Unsubscribe, List-Id, Auto-Submitted... */
  headers?: Record<string, string>;
  /** The one-click unsubscribe headers (RFC 8058); default: the account's setting. */
  unsubscribe?: boolean;
  /** Send later: at most 30 days ahead. A Date is sent as ISO 8601 in UTC. */
  scheduled_at?: DateTimeInput;
}

/** A message written out: a subject and HTML, text or both. */
export interface ContentSendParams extends MessageFields {
  subject: string;
  html?: string;
  text?: string;
  template?: never;
}

/** A message made from a template, which gives its subject, HTML and text. */
export interface TemplateSendParams extends MessageFields {
  template: TemplateRef;
  subject?: never;
  html?: never;
  text?: never;
}

export type SendParams = ContentSendParams | TemplateSendParams;

export interface SendBatchParams {
  messages: SendParams[];
  from_email?: string;
  from_name?: string;
}

export interface StatusParams {
  events_after?: number | string;
}

export interface SuppressionParams {
  email: string;
  reason?: 'manual' | 'unsubscribed';
  description?: string;
}

export interface SuppressionListParams {
  email?: string;
  page?: number;
}

/** The API's answer, as the server sent it. */
export interface Envelope<Data = Record<string, any>> {
  success: true;
  data: Data;
}

export interface SendData {
  message_id: string;
  /** 'sent', or 'scheduled' with scheduled_at. */
  status: string;
  to: string;
  from: string;
  /** UTC, ending in Z; only on a scheduled message. */
  scheduled_at?: string;
  [field: string]: unknown;
}

/** One message of a batch's answer. */
export interface BatchMessageResult {
  to: string;
  /** 'queued', 'scheduled' or 'failed'. */
  status: string;
  message_id?: string;
  queue_id?: number | string;
  /** Why a failed message failed: VALIDATION_ERROR, RECIPIENT_SUPPRESSED, DOMAIN_NOT_VERIFIED... */
  error?: { code: string; message: string; details: Record<string, any> };
  /** UTC, ending in Z; only on a scheduled message. */
  scheduled_at?: string;
  [field: string]: any;
}

export interface BatchData {
  total: number;
  /** Scheduled messages count here too. */
  queued: number;
  failed: number;
  messages: BatchMessageResult[];
}

/** POST /api/v1/mail/{message_id}/cancel */
export interface CancelData {
  message_id: string;
  status: 'cancelled';
}

/** PATCH /api/v1/mail/{message_id} */
export interface RescheduleData {
  message_id: string;
  status: 'scheduled';
  /** UTC, ending in Z. */
  scheduled_at: string;
}

/** An attachment as the status answer describes it (never its content). */
export interface StatusAttachment {
  filename: string;
  content_type: string;
  /** Bytes, decoded. */
  size: number;
  /** Null unless the attachment is inline. */
  content_id: string | null;
}

/**
 * A message's status: queued, sending, sent, failed, suppressed, delivered, bounced,
 * complained, scheduled (waiting for its time) or cancelled (cancelled before it was due).
 */
export interface StatusMessage {
  message_id: string;
  from_email: string;
  to_email: string;
  subject: string;
  status: string;
  error_message: string | null;
  failure_reason: string | null;
  sent_at: string | null;
  created_at: string;
  attachments: StatusAttachment[];
  /** When a scheduled message is (or was) due, in UTC; null for a message sent at once. */
  scheduled_at: string | null;
  /** The template the message was made from; null for one written out. */
  template: { id: number; alias: string; version: number } | null;
  /** Sent with a test key (mp_test_…): recorded, never handed to a provider. */
  test: boolean;
  [field: string]: unknown;
}

export interface StatusData {
  message: StatusMessage;
  events: Array<Record<string, any>>;
  events_next: string | null;
}

/** A template as the API shows it: one version's content. */
export interface Template {
  id: number;
  alias: string;
  name: string;
  /** The version shown. */
  version: number;
  /** The newest version. */
  latest_version: number;
  subject: string;
  /** '' when the template has no HTML. */
  html: string;
  /** '' when the template has no text. */
  text: string;
  defaults: Record<string, JsonValue>;
  /** The names the template uses at top level, sorted. */
  variables: string[];
  created_at: string;
  updated_at: string;
  [field: string]: unknown;
}

export interface TemplateVersion {
  version: number;
  created_at: string;
}

export interface TemplateCreateParams {
  /** 1-200 characters. */
  name: string;
  /** Unique in the account: 1-100 of a-z, 0-9, '-', '_', '.', with at least one letter. */
  alias: string;
  /** Mustache, like html and text; variables are inserted as they are. */
  subject: string;
  /** Variables are HTML-escaped here. At least one of html and text. */
  html?: string;
  text?: string;
  /** Values for variables a send does not give. */
  defaults?: Record<string, JsonValue>;
}

/** A change of subject, html, text or defaults makes a new version; name and alias do not. */
export type TemplateUpdateParams = Partial<TemplateCreateParams>;

export interface TemplateListParams {
  page?: number;
}

export interface TemplateListData {
  total: number;
  page: number;
  pages: number;
  /** 100 a page, newest first. */
  templates: Template[];
}

export interface TemplateCreatedData {
  template: Template;
  versions?: TemplateVersion[];
}

export interface TemplateData {
  template: Template;
  /** Latest first. */
  versions: TemplateVersion[];
}

export interface TemplateDeletedData {
  id: number;
  alias: string;
}

export interface RenderData {
  subject: string;
  /** '' when the template has no HTML. */
  html: string;
  /** '' when the template has no text. */
  text: string;
  version: number;
}

export interface SendOptions {
  /** Sent as Idempotency-Key; default: a fresh UUID per call, the same on every retry. */
  idempotencyKey?: string;
  signal?: AbortSignal;
}

export interface RequestOptions {
  signal?: AbortSignal;
}

export interface MailPassOptions {
  /** The instance's root URL; default: the MAILPASS_BASE_URL environment variable. */
  baseUrl?: string;
  /** Milliseconds one attempt may take (default 30000). */
  timeout?: number;
  /** Attempts after the first (default 2; 0 turns retries off). */
  maxRetries?: number;
  /** Also retry SEND_LIMIT_EXCEEDED (default false). */
  retryOnSendLimit?: boolean;
  /** The fetch to use (default: the global one). */
  fetch?: typeof globalThis.fetch;
  /** Milliseconds before the first retry, doubled each time (default 500). For tests. */
  backoff?: number;
}

export interface MailResource {
  send(params: SendParams, options?: SendOptions): Promise<Envelope<SendData>>;
  sendBatch(params: SendBatchParams, options?: SendOptions): Promise<Envelope<BatchData>>;
  status(messageId: string, params?: StatusParams, options?: RequestOptions): Promise<Envelope<StatusData>>;
  /** Cancels a scheduled message; a cancelled one answers the same. Else MessageNotScheduledError. */
  cancel(messageId: string, options?: RequestOptions): Promise<Envelope<CancelData>>;
  /** Moves a scheduled message to another time. Not scheduled: MessageNotScheduledError. */
  reschedule(messageId: string, scheduledAt: DateTimeInput, options?: RequestOptions): Promise<Envelope<RescheduleData>>;
}

export interface SuppressionsResource {
  list(params?: SuppressionListParams, options?: RequestOptions): Promise<Envelope>;
  add(params: SuppressionParams | string, options?: RequestOptions): Promise<Envelope>;
  remove(email: string, options?: RequestOptions): Promise<Envelope>;
}

/** A template is named by its id or its alias. */
export type TemplateKey = number | string;

export interface TemplatesResource {
  list(params?: TemplateListParams | number, options?: RequestOptions): Promise<Envelope<TemplateListData>>;
  create(params: TemplateCreateParams, options?: RequestOptions): Promise<Envelope<TemplateCreatedData>>;
  /** The latest version, or the one given. */
  get(idOrAlias: TemplateKey, version?: number | null, options?: RequestOptions): Promise<Envelope<TemplateData>>;
  update(idOrAlias: TemplateKey, params: TemplateUpdateParams, options?: RequestOptions): Promise<Envelope<TemplateData>>;
  /** TemplateInUseError while scheduled messages use it. */
  delete(idOrAlias: TemplateKey, options?: RequestOptions): Promise<Envelope<TemplateDeletedData>>;
  render(
    idOrAlias: TemplateKey,
    variables?: Record<string, JsonValue> | null,
    version?: number | null,
    options?: RequestOptions
  ): Promise<Envelope<RenderData>>;
}

/** The event types an endpoint can ask for; the posted `type` is `email.<name>`. */
export type WebhookEventName =
  | 'sent' | 'delivered' | 'bounced' | 'failed' | 'complained' | 'unsubscribed'
  | 'opened' | 'clicked' | 'suppressed' | 'scheduled' | 'cancelled';

export declare const WEBHOOK_EVENTS: readonly WebhookEventName[];

/** A webhook endpoint as the API shows it (never with its secret). */
export interface WebhookEndpoint {
  id: number;
  url: string;
  description: string;
  events: WebhookEventName[];
  enabled: boolean;
  /** 'manual': turned off by a person; 'failing': by MailPass after 5 days of failures. */
  disabled_reason: 'manual' | 'failing' | null;
  /** The first failed attempt since the last success. */
  failing_since: string | null;
  created_at: string;
  updated_at: string;
  secret_rotated_at: string | null;
  /** Until then the previous secret signs too. */
  previous_secret_expires_at: string | null;
}

export interface WebhookCreateParams {
  /** https:// (http:// only on an instance that allows private hosts). */
  url: string;
  description?: string;
  /** Default: all of them. */
  events?: WebhookEventName[];
  enabled?: boolean;
}

export type WebhookUpdateParams = Partial<WebhookCreateParams>;

export interface WebhookDelivery {
  id: number;
  /** The webhook-id header: the same on every retry. */
  event_id: string;
  type: string;
  test: boolean;
  status: 'pending' | 'succeeded' | 'failed';
  attempts: number;
  created_at: string;
  next_attempt_at: string | null;
  last_attempt_at: string | null;
  response_code: number | null;
  duration_ms: number | null;
  error: string | null;
}

export interface WebhookListParams {
  page?: number;
}

export interface WebhookDeliveryListParams {
  page?: number;
  status?: 'pending' | 'succeeded' | 'failed';
}

export interface WebhookListData {
  total: number;
  page: number;
  pages: number;
  webhooks: WebhookEndpoint[];
}

export interface WebhookData {
  webhook: WebhookEndpoint;
}

/** create and rotateSecret: the only answers that show the secret. */
export interface WebhookSecretData {
  webhook: WebhookEndpoint;
  /** whsec_…: keep it where your receiver reads it. */
  secret: string;
}

export interface WebhookDeliveryData {
  delivery: WebhookDelivery;
}

export interface WebhookDeliveryListData {
  total: number;
  page: number;
  pages: number;
  deliveries: WebhookDelivery[];
}

export interface WebhooksResource {
  list(params?: WebhookListParams | number, options?: RequestOptions): Promise<Envelope<WebhookListData>>;
  create(params: WebhookCreateParams, options?: RequestOptions): Promise<Envelope<WebhookSecretData>>;
  get(id: number, options?: RequestOptions): Promise<Envelope<WebhookData>>;
  update(id: number, params: WebhookUpdateParams, options?: RequestOptions): Promise<Envelope<WebhookData>>;
  delete(id: number, options?: RequestOptions): Promise<Envelope<{ id: number }>>;
  /** A new secret; the old one signs beside it for overlapHours (0-168, default 24). */
  rotateSecret(id: number, overlapHours?: number | null, options?: RequestOptions): Promise<Envelope<WebhookSecretData>>;
  deliveries(id: number, params?: WebhookDeliveryListParams | number, options?: RequestOptions): Promise<Envelope<WebhookDeliveryListData>>;
  /** Tries it again now, same webhook-id. WebhookDisabledError on a disabled endpoint. */
  retryDelivery(id: number, deliveryId: number, options?: RequestOptions): Promise<Envelope<WebhookDeliveryData>>;
  /** Queues a signed webhook.test event. WebhookDisabledError on a disabled endpoint. */
  test(id: number, options?: RequestOptions): Promise<Envelope<WebhookDeliveryData>>;
}

/**
 * A domain's status: 'pending' (never checked yet), 'verified' (every required record was
 * right at the last check) or 'failed' (a required record was missing or wrong).
 */
export type DomainStatus = 'pending' | 'verified' | 'failed';

/** What a check found for one DNS record: 'pending' until it is first checked. */
export type DomainRecordStatus = 'pending' | 'verified' | 'failed';

/** A TXT record the domain's DNS should hold, and what the last check found there. */
export interface DomainRecordBase {
  type: 'TXT';
  /** The full name to publish it at, e.g. 'mp20261204._domainkey.example.com'. */
  name: string;
  /** The text to publish. */
  value: string;
  status: DomainRecordStatus;
  /** The TXT text found in DNS at the last check; null when there was none. */
  found: string | null;
  /** Why the check failed, in English; '' otherwise. */
  detail: string;
}

/** The public half of a DKIM key (the private key is never shown). */
export interface DkimRecord extends DomainRecordBase {
  purpose: 'dkim';
  /** Dated: 'mp20261204' (RSA), 'mp20261204e' (Ed25519), 'mp20261204b' (a second one that day). */
  selector: string;
  algorithm: 'rsa-sha256' | 'ed25519-sha256';
  /** 'active': signs mail; 'pending': made by a rotation, signs once its record is found. */
  key_state: 'active' | 'pending';
}

/** Only when the operator set an SPF include. A domain has one SPF record: add the mechanism to yours. */
export interface SpfRecord extends DomainRecordBase {
  purpose: 'spf';
}

export interface DmarcRecord extends DomainRecordBase {
  purpose: 'dmarc';
}

export type DomainRecord = DkimRecord | SpfRecord | DmarcRecord;

/** A sender domain of the account. */
export interface Domain {
  id: number;
  /** Lower case; an IDN as punycode ('xn--bcher-kva.example'). */
  name: string;
  status: DomainStatus;
  /** Signs with an Ed25519 key as well as the RSA one. */
  ed25519: boolean;
  /** Mail from this domain is DKIM-signed now: verified, with an active key. */
  signing: boolean;
  created_at: string;
  checked_at: string | null;
  next_check_at: string | null;
  verified_at: string | null;
  records: DomainRecord[];
  [field: string]: unknown;
}

export interface DomainCreateParams {
  /** e.g. 'example.com': stored lower-case, an IDN as punycode. */
  name: string;
  /** Also sign with an Ed25519 key (RFC 8463), besides RSA (default false). */
  ed25519?: boolean;
}

export interface DomainListParams {
  page?: number;
}

export interface DomainListData {
  total: number;
  page: number;
  pages: number;
  /** Newest first. */
  domains: Domain[];
}

/** What domains.delete resolves to: the domain that was deleted, or null after a 204. */
export type DomainDeletedData = { id: number; name: string } | null;

export interface DomainData {
  domain: Domain;
}

/** A domain is named by its id or its name ('example.com'). */
export type DomainKey = number | string;

export interface DomainsResource {
  list(params?: DomainListParams | number, options?: RequestOptions): Promise<Envelope<DomainListData>>;
  /** ValidationError for a name that is not a domain, or one the account already has. */
  create(params: DomainCreateParams | string, options?: RequestOptions): Promise<Envelope<DomainData>>;
  get(idOrName: DomainKey, options?: RequestOptions): Promise<Envelope<DomainData>>;
  /** Deletes the domain and its keys. */
  delete(idOrName: DomainKey, options?: RequestOptions): Promise<Envelope<DomainDeletedData>>;
  /** Checks the domain's DNS records now; UnavailableError when the DNS could not be asked. */
  verify(idOrName: DomainKey, options?: RequestOptions): Promise<Envelope<DomainData>>;
  /**
   * New pending DKIM key(s) under a new selector; again while one is pending, the same ones.
   * ed25519: add (true) or drop (false) the Ed25519 key from now on; default: as it is.
   */
  rotate(idOrName: DomainKey, ed25519?: boolean | null, options?: RequestOptions): Promise<Envelope<DomainData>>;
}

/** The body MailPass posts to an endpoint, as verifyWebhook returns it. */
export interface WebhookEvent {
  /** 'email.delivered', 'email.bounced', …, or 'webhook.test'. */
  type: string;
  created_at: string;
  /** Made in test mode. */
  test: boolean;
  data: Record<string, any>;
}

export interface VerifyWebhookOptions {
  /** Seconds the webhook-timestamp may be off, either way (default 300). */
  tolerance?: number;
  /** Unix seconds to judge the timestamp by (tests). */
  now?: number;
}

/**
 * Checks a request to your webhook endpoint: the raw body (never re-serialised), its headers
 * (Node's req.headers, a fetch Headers, or [name, value] pairs) and the endpoint's whsec_
 * secret. Resolves to the event; rejects with WebhookVerificationError.
 */
export declare function verifyWebhook(
  payload: string | Uint8Array | ArrayBuffer,
  headers: Record<string, string | string[] | undefined> | Headers | Iterable<[string, string]>,
  secret: string,
  options?: VerifyWebhookOptions
): Promise<WebhookEvent>;

export declare class MailPass {
  constructor(apiKey: string, options?: MailPassOptions);
  readonly baseUrl: string;
  readonly mail: MailResource;
  readonly suppressions: SuppressionsResource;
  readonly templates: TemplatesResource;
  readonly webhooks: WebhooksResource;
  readonly domains: DomainsResource;
}
export default MailPass;

export declare class MailPassError extends Error {}

export declare class MailPassApiError extends MailPassError {
  /** The API's error code, or UNEXPECTED_RESPONSE for an answer that was not its JSON. */
  readonly code: string;
  readonly status: number;
  readonly details: Record<string, any>;
  /** Seconds, from Retry-After. */
  readonly retryAfter: number | null;
  readonly messageId: string | null;
}

export declare class MailPassNetworkError extends MailPassError {}
export declare class MailPassTimeoutError extends MailPassNetworkError {}
export declare class MailPassConfigurationError extends MailPassError {}

export declare class ValidationError extends MailPassApiError {}
export declare class UnauthorizedError extends MailPassApiError {}
export declare class ForbiddenError extends MailPassApiError {}
export declare class NotFoundError extends MailPassApiError {}
export declare class IdempotencyConflictError extends MailPassApiError {}
export declare class PayloadTooLargeError extends MailPassApiError {}
export declare class NoSmtpProviderError extends MailPassApiError {}
export declare class RecipientSuppressedError extends MailPassApiError {}
export declare class SendLimitExceededError extends MailPassApiError {}
export declare class RateLimitedError extends MailPassApiError {}
export declare class SendFailedError extends MailPassApiError {}
export declare class InternalServerError extends MailPassApiError {}
export declare class UnavailableError extends MailPassApiError {}
/** 409: cancel or reschedule of a message that is not scheduled; details.status says what it is. */
export declare class MessageNotScheduledError extends MailPassApiError {}
/** 409: the template cannot be deleted while scheduled messages use it (details.scheduled). */
export declare class TemplateInUseError extends MailPassApiError {}
/** WEBHOOK_DISABLED: a test event or a retry for a disabled endpoint. */
export declare class WebhookDisabledError extends MailPassApiError {}
/** 422 DOMAIN_NOT_VERIFIED: the From address's domain (details.domain) is not a verified sender domain. */
export declare class DomainNotVerifiedError extends MailPassApiError {}
/** verifyWebhook: not a genuine, recent MailPass webhook. */
export declare class WebhookVerificationError extends MailPassError {}

export declare const ERRORS_BY_CODE: Readonly<Record<string, typeof MailPassApiError>>;
