<?php

declare(strict_types=1);

namespace MailPass\Resource;

use MailPass\Exception\ApiException;
use MailPass\Exception\InvalidArgumentException;
use MailPass\Exception\NetworkException;
use MailPass\Internal\Transport;

/**
 * Sending mail and following it: /api/v1/mail/send, /send-batch and /status/{message_id}.
 *
 * Parameters use the API's own field names (to, subject, html, text, from_email, from_name,
 * reply_to, cc, bcc, tags, metadata, track_opens, track_clicks, attachments, headers,
 * unsubscribe). Every method returns the decoded JSON answer as the server sent it:
 * `['success' => true, 'data' => [...]]`.
 */
class Mail
{
    /** The fields whose value is a JSON object, which an empty PHP array would not become. */
    private const OBJECT_FIELDS = ['metadata', 'headers'];

    /**
     * @internal Get it from {@see \MailPass\Client::$mail}.
     */
    public function __construct(private readonly Transport $transport)
    {
    }

    /**
     * Send one email now, through the account's default provider.
     *
     * The request carries an Idempotency-Key (a new UUID v4 per call unless you pass one),
     * the same on every retry, so a retried call can never send twice.
     *
     * Attachments (at most 20) carry their bytes in base64: {@see \MailPass\Attachment}
     * builds them from a path or from bytes. `headers` adds X-… headers and a few others
     * (In-Reply-To, References, List-Unsubscribe, List-Id...); `unsubscribe` turns the
     * one-click unsubscribe headers on or off for this message (default: the account's
     * setting).
     *
     * @param array{
     *     to: string,
     *     subject: string,
     *     html?: string,
     *     text?: string,
     *     from_email?: string,
     *     from_name?: string,
     *     reply_to?: string,
     *     cc?: list<string>,
     *     bcc?: list<string>,
     *     tags?: list<string>,
     *     metadata?: array<string, string|int|float|bool|null>,
     *     track_opens?: bool,
     *     track_clicks?: bool,
     *     attachments?: list<array{
     *         filename: string,
     *         content: string,
     *         content_type?: string,
     *         content_id?: string
     *     }>,
     *     headers?: array<string, string>,
     *     unsubscribe?: bool
     * } $params
     * @param array{idempotency_key?: string} $options
     *
     * @return array{
     *     success: bool,
     *     data: array{message_id: string, status: string, to: string, from: string}
     * }
     *
     * @throws ApiException     e.g. ValidationException, RecipientSuppressedException,
     *                          SendFailedException
     * @throws NetworkException
     */
    public function send(array $params, array $options = []): array
    {
        return $this->transport->request(
            'POST',
            '/api/v1/mail/send',
            self::withJsonObjects($params),
            [],
            self::idempotencyKey($options)
        );
    }

    /**
     * Queue 1 to 100 emails at once. An invalid item does not sink the others: it comes back
     * with status "failed" and its error, while the valid ones are queued.
     *
     * @param array{
     *     messages: list<array<string, mixed>>,
     *     from_email?: string,
     *     from_name?: string
     * } $params   each message has the fields of send()'s $params (attachments, headers
     *             and unsubscribe too); from_email and from_name: defaults for every message
     * @param array{idempotency_key?: string} $options
     *
     * @return array{
     *     success: bool,
     *     data: array{total: int, queued: int, failed: int, messages: list<array<string, mixed>>}
     * }
     *
     * @throws ApiException
     * @throws NetworkException
     */
    public function sendBatch(array $params, array $options = []): array
    {
        return $this->transport->request(
            'POST',
            '/api/v1/mail/send-batch',
            self::batchWithJsonObjects($params),
            [],
            self::idempotencyKey($options)
        );
    }

    /**
     * Status and events of a message. The id may be given with or without its angle
     * brackets ("<abc.123@host>" or "abc.123@host"). `data.message.attachments` lists its
     * attachments by name, type, size (bytes) and content_id (null unless inline).
     *
     * @param array{events_after?: string} $params events_after: the events_next of an
     *                                             earlier answer, for the next page of events
     *
     * @return array{
     *     success: bool,
     *     data: array{
     *         message: array{
     *             message_id: string,
     *             from_email: string,
     *             to_email: string,
     *             subject: string,
     *             status: string,
     *             error_message: string|null,
     *             failure_reason: string|null,
     *             sent_at: string|null,
     *             created_at: string,
     *             attachments: list<array{
     *                 filename: string,
     *                 content_type: string,
     *                 size: int,
     *                 content_id: string|null
     *             }>
     *         },
     *         events: list<array<string, mixed>>,
     *         events_next: string|null
     *     }
     * }
     *
     * @throws ApiException NotFoundException for an unknown id
     * @throws NetworkException
     */
    public function status(string $messageId, array $params = []): array
    {
        if (trim($messageId) === '') {
            throw new InvalidArgumentException('The message id is empty.');
        }

        return $this->transport->request(
            'GET',
            '/api/v1/mail/status/' . rawurlencode($messageId),
            null,
            $params
        );
    }

    /**
     * @return array<string, mixed>
     */
    public function __debugInfo(): array
    {
        return ['transport' => $this->transport];
    }

    /**
     * $message with an empty `metadata` or `headers` array sent as the empty JSON object it
     * stands for (json_encode would send `[]`, which the API refuses as not an object).
     *
     * @param array<mixed> $message
     *
     * @return array<mixed>
     */
    private static function withJsonObjects(array $message): array
    {
        foreach (self::OBJECT_FIELDS as $field) {
            if (array_key_exists($field, $message) && $message[$field] === []) {
                $message[$field] = new \stdClass();
            }
        }

        return $message;
    }

    /**
     * @param array<mixed> $params
     *
     * @return array<mixed>
     */
    private static function batchWithJsonObjects(array $params): array
    {
        if (isset($params['messages']) && is_array($params['messages'])) {
            foreach ($params['messages'] as $index => $message) {
                if (is_array($message)) {
                    $params['messages'][$index] = self::withJsonObjects($message);
                }
            }
        }

        return $params;
    }

    /**
     * @param array<string, mixed> $options
     */
    private static function idempotencyKey(array $options): string
    {
        $unknown = array_diff(array_keys($options), ['idempotency_key']);
        if ($unknown !== []) {
            throw new InvalidArgumentException(sprintf(
                'Unknown option(s): %s. The only per-call option is idempotency_key.',
                implode(', ', $unknown)
            ));
        }
        $key = $options['idempotency_key'] ?? null;
        if ($key === null) {
            return Transport::uuid4();
        }
        if (!is_string($key) || $key === '' || strlen($key) > 256 || preg_match('/[^\x20-\x7e]/', $key) === 1) {
            throw new InvalidArgumentException(
                'The idempotency_key option must be 1 to 256 printable ASCII characters.'
            );
        }

        return $key;
    }
}
