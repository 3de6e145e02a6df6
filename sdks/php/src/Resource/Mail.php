<?php

declare(strict_types=1);

namespace MailPass\Resource;

use MailPass\Exception\ApiException;
use MailPass\Exception\InvalidArgumentException;
use MailPass\Exception\NetworkException;
use MailPass\Internal\Params;
use MailPass\Internal\Transport;

/**
 * Sending mail and following it: /api/v1/mail/send, /send-batch, /status/{message_id}, and
 * the scheduled messages' /{message_id}/cancel and PATCH /{message_id}.
 *
 * Parameters use the API's own field names (to, subject, html, text, from_email, from_name,
 * reply_to, cc, bcc, tags, metadata, track_opens, track_clicks, attachments, headers,
 * unsubscribe, template, scheduled_at). Every method returns the decoded JSON answer as the
 * server sent it: `['success' => true, 'data' => [...]]`.
 */
class Mail
{
    /** The fields whose value is a JSON object, which an empty PHP array would not become. */
    private const OBJECT_FIELDS = ['metadata', 'headers', 'template'];

    /**
     * @internal Get it from {@see \MailPass\Client::$mail}.
     */
    public function __construct(private readonly Transport $transport)
    {
    }

    /**
     * Send one email now, through the account's default provider, or schedule it.
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
     * `template` renders a stored template ({@see Templates}) instead of `subject`, `html`
     * and `text`, which must then be left out: `['alias' => 'order-shipped']` or
     * `['id' => 12]`, with its `variables` and, optionally, a `version` (default: the
     * latest). It goes to the API as given (an empty `variables` array as `{}`).
     *
     * `scheduled_at` sends it later instead (up to 30 days ahead): a DateTimeInterface,
     * sent as ISO 8601 with its offset, or an ISO 8601 string that has an offset
     * ("2026-12-05T09:00:00+01:00", "2026-12-05T08:00:00Z"). Nothing goes to a provider
     * now; the answer's status is "scheduled" and its `scheduled_at` the time in UTC.
     *
     * @param array{
     *     to: string,
     *     subject?: string,
     *     html?: string,
     *     text?: string,
     *     template?: array{
     *         alias?: string,
     *         id?: int,
     *         variables?: array<string, mixed>,
     *         version?: int
     *     },
     *     scheduled_at?: \DateTimeInterface|string,
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
     * } $params   `subject` and `html` or `text` are required unless `template` is given
     * @param array{idempotency_key?: string} $options
     *
     * @return array{
     *     success: bool,
     *     data: array{
     *         message_id: string,
     *         status: 'sent'|'scheduled',
     *         to: string,
     *         from: string,
     *         scheduled_at?: string
     *     }
     * }   `scheduled_at` (UTC, "…Z") only on a scheduled message
     *
     * @throws ApiException     e.g. ValidationException, RecipientSuppressedException,
     *                          DomainNotVerifiedException, SendFailedException
     * @throws NetworkException
     */
    public function send(array $params, array $options = []): array
    {
        return $this->transport->request(
            'POST',
            '/api/v1/mail/send',
            self::message($params),
            [],
            self::idempotencyKey($options)
        );
    }

    /**
     * Queue 1 to 100 emails at once. An invalid item does not sink the others: it comes back
     * with status "failed" and its error, while the valid ones are queued (status "queued",
     * or "scheduled" with its `scheduled_at` for those that have one).
     *
     * @param array{
     *     messages: list<array<string, mixed>>,
     *     from_email?: string,
     *     from_name?: string
     * } $params   each message has the fields of send()'s $params (attachments, headers,
     *             unsubscribe, template and scheduled_at too, a DateTimeInterface converted
     *             as there); from_email and from_name: defaults for every message
     * @param array{idempotency_key?: string} $options
     *
     * @return array{
     *     success: bool,
     *     data: array{
     *         total: int,
     *         queued: int,
     *         failed: int,
     *         messages: list<array{
     *             to: string,
     *             status: 'queued'|'scheduled'|'failed',
     *             queue_id?: int,
     *             message_id?: string,
     *             scheduled_at?: string,
     *             error?: array{code: string, message: string, details: array<string, mixed>}
     *         }>
     *     }
     * }   `queued` counts the scheduled items too
     *
     * @throws ApiException
     * @throws NetworkException
     */
    public function sendBatch(array $params, array $options = []): array
    {
        if (isset($params['messages']) && is_array($params['messages'])) {
            foreach ($params['messages'] as $index => $message) {
                if (is_array($message)) {
                    $params['messages'][$index] = self::message($message);
                }
            }
        }

        return $this->transport->request(
            'POST',
            '/api/v1/mail/send-batch',
            $params,
            [],
            self::idempotencyKey($options)
        );
    }

    /**
     * Status and events of a message. The id may be given with or without its angle
     * brackets ("<abc.123@host>" or "abc.123@host"). `data.message.attachments` lists its
     * attachments by name, type, size (bytes) and content_id (null unless inline);
     * `scheduled_at` is the time a scheduled message is (or was) due, in UTC, else null;
     * `template` the template it was rendered from, else null.
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
     *             scheduled_at: string|null,
     *             template: array{id: int, alias: string, version: int}|null,
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
     * }   message.status: queued, scheduled, sending, sent, failed, suppressed, cancelled...
     *
     * @throws ApiException NotFoundException for an unknown id
     * @throws NetworkException
     */
    public function status(string $messageId, array $params = []): array
    {
        return $this->transport->request('GET', self::path('/api/v1/mail/status/', $messageId), null, $params);
    }

    /**
     * Cancel a scheduled message before it is due; it is then "cancelled" and never sent.
     * Cancelling it again answers the same (the call is idempotent). The id may keep or drop
     * its angle brackets.
     *
     * @return array{success: bool, data: array{message_id: string, status: 'cancelled'}}
     *
     * @throws ApiException MessageNotScheduledException when the message is not scheduled
     *                      (any more): queued, sent, failed...; NotFoundException for an
     *                      unknown id
     * @throws NetworkException
     */
    public function cancel(string $messageId): array
    {
        return $this->transport->request('POST', self::path('/api/v1/mail/', $messageId) . '/cancel');
    }

    /**
     * Move a scheduled message to another time: a DateTimeInterface (sent as ISO 8601 with
     * its offset) or an ISO 8601 string with an offset; not in the past, at most 30 days
     * ahead. The same time again answers the same.
     *
     * @return array{
     *     success: bool,
     *     data: array{message_id: string, status: 'scheduled', scheduled_at: string}
     * }   scheduled_at: the new time, in UTC ("…Z")
     *
     * @throws ApiException MessageNotScheduledException when the message is not scheduled
     *                      (any more), cancelled included; ValidationException for a time
     *                      without an offset, in the past or too far ahead
     * @throws NetworkException
     */
    public function reschedule(string $messageId, \DateTimeInterface|string $scheduledAt): array
    {
        return $this->transport->request(
            'PATCH',
            self::path('/api/v1/mail/', $messageId),
            ['scheduled_at' => Params::dateTimeOrAsIs($scheduledAt)]
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
     * $prefix and the URL-encoded message id.
     */
    private static function path(string $prefix, string $messageId): string
    {
        if (trim($messageId) === '') {
            throw new InvalidArgumentException('The message id is empty.');
        }

        return $prefix . rawurlencode($messageId);
    }

    /**
     * A message as the API wants it: a DateTimeInterface `scheduled_at` as its ISO 8601
     * string; an empty `metadata`, `headers`, `template` or `template.variables` array as
     * the empty JSON object it stands for (json_encode would send `[]`, which the API refuses
     * as not an object).
     *
     * @param array<mixed> $message
     *
     * @return array<mixed>
     */
    private static function message(array $message): array
    {
        if (array_key_exists('scheduled_at', $message)) {
            $message['scheduled_at'] = Params::dateTimeOrAsIs($message['scheduled_at']);
        }
        if (isset($message['template']) && is_array($message['template'])) {
            $message['template'] = Params::withObjects($message['template'], ['variables']);
        }

        return Params::withObjects($message, self::OBJECT_FIELDS);
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
