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

export interface SendParams {
  to: string;
  subject: string;
  html?: string;
  text?: string;
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
}

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
  status: string;
  to: string;
  from: string;
  [field: string]: unknown;
}

export interface BatchData {
  total: number;
  queued: number;
  failed: number;
  messages: Array<Record<string, any>>;
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
  [field: string]: unknown;
}

export interface StatusData {
  message: StatusMessage;
  events: Array<Record<string, any>>;
  events_next: string | null;
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
}

export interface SuppressionsResource {
  list(params?: SuppressionListParams, options?: RequestOptions): Promise<Envelope>;
  add(params: SuppressionParams | string, options?: RequestOptions): Promise<Envelope>;
  remove(email: string, options?: RequestOptions): Promise<Envelope>;
}

export declare class MailPass {
  constructor(apiKey: string, options?: MailPassOptions);
  readonly baseUrl: string;
  readonly mail: MailResource;
  readonly suppressions: SuppressionsResource;
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

export declare const ERRORS_BY_CODE: Readonly<Record<string, typeof MailPassApiError>>;
