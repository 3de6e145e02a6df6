<?php

declare(strict_types=1);

namespace MailPass\Resource;

use MailPass\Exception\ApiException;
use MailPass\Exception\InvalidArgumentException;
use MailPass\Exception\NetworkException;
use MailPass\Internal\Transport;

/**
 * The account's webhook endpoints (/api/v1/webhooks): URLs of your application that
 * MailPass POSTs a signed JSON event to when something happens to a message (sent,
 * delivered, bounced, opened...), and the log of those deliveries. Every call needs a key
 * with the `webhooks` permission. Check what arrives with {@see \MailPass\Webhook::verify()}.
 *
 * An endpoint is named by its id (an int). Every method returns the decoded JSON answer,
 * `['success' => true, 'data' => [...]]`, where an endpoint is
 *
 *     ['id' => 7, 'url' => 'https://app.example.com/hooks/mailpass',
 *      'description' => 'Production app', 'events' => ['delivered', 'bounced'],
 *      'enabled' => true, 'disabled_reason' => null, 'failing_since' => null,
 *      'created_at' => '2026-12-04T10:00:00Z', 'updated_at' => '2026-12-04T10:00:00Z',
 *      'secret_rotated_at' => null, 'previous_secret_expires_at' => null]
 *
 * (`disabled_reason`: null, "manual" or "failing", when MailPass turned it off after five
 * days of failed deliveries; `failing_since`: the first failure since the last success)
 * and a delivery, one event on its way to one endpoint,
 *
 *     ['id' => 991, 'event_id' => 'msg_2Zt6…', 'type' => 'email.delivered', 'test' => false,
 *      'status' => 'pending', 'attempts' => 2, 'created_at' => '…', 'next_attempt_at' => '…',
 *      'last_attempt_at' => '…', 'response_code' => 500, 'duration_ms' => 41,
 *      'error' => 'HTTP 500']
 *
 * (`status`: pending, succeeded or failed; `event_id` is the `webhook-id` header the
 * receiver sees; `response_code`, `duration_ms` and `error` are the latest attempt's, null
 * before the first). Times are ISO 8601 strings in UTC.
 *
 * @phpstan-type WebhookEndpoint array{
 *     id: int,
 *     url: string,
 *     description: string,
 *     events: list<string>,
 *     enabled: bool,
 *     disabled_reason: 'manual'|'failing'|null,
 *     failing_since: string|null,
 *     created_at: string,
 *     updated_at: string,
 *     secret_rotated_at: string|null,
 *     previous_secret_expires_at: string|null
 * }
 * @phpstan-type WebhookDelivery array{
 *     id: int,
 *     event_id: string,
 *     type: string,
 *     test: bool,
 *     status: 'pending'|'succeeded'|'failed',
 *     attempts: int,
 *     created_at: string,
 *     next_attempt_at: string|null,
 *     last_attempt_at: string|null,
 *     response_code: int|null,
 *     duration_ms: int|null,
 *     error: string|null
 * }
 * @phpstan-type WebhookParams array{
 *     url?: string,
 *     description?: string,
 *     events?: list<'sent'|'delivered'|'bounced'|'failed'|'complained'|'unsubscribed'|'opened'|'clicked'|'suppressed'|'scheduled'|'cancelled'>,
 *     enabled?: bool
 * }
 */
class Webhooks
{
    /**
     * The event types an endpoint can ask for; the payload's `type` is "email.<event>".
     * An endpoint created without `events` gets all of them.
     */
    public const EVENTS = [
        'sent', 'delivered', 'bounced', 'failed', 'complained', 'unsubscribed',
        'opened', 'clicked', 'suppressed', 'scheduled', 'cancelled',
    ];

    /**
     * @internal Get it from {@see \MailPass\Client::$webhooks}.
     */
    public function __construct(private readonly Transport $transport)
    {
    }

    /**
     * The account's endpoints, newest first, 100 per page. A page past the last is a
     * ValidationException.
     *
     * @param int|null $page 1, 2...; null: the server's default, the first
     *
     * @return array{
     *     success: bool,
     *     data: array{total: int, page: int, pages: int, webhooks: list<WebhookEndpoint>}
     * }
     *
     * @throws ApiException
     * @throws NetworkException
     */
    public function list(?int $page = null): array
    {
        return $this->transport->request(
            'GET',
            '/api/v1/webhooks',
            null,
            $page === null ? [] : ['page' => $page]
        );
    }

    /**
     * Add an endpoint. The answer holds its signing secret ("whsec_…"), which MailPass
     * shows only here and on {@see rotateSecret()}: keep it where your receiver reads it.
     *
     * `url` must be https:// (plain http:// only on instances that allow private hosts,
     * for development), without a user or password, and not name a private or loopback
     * address. `events` defaults to all of {@see EVENTS}; `enabled` to true.
     *
     * @param WebhookParams $params `url` is required
     *
     * @return array{success: bool, data: array{webhook: WebhookEndpoint, secret: string}}
     *
     * @throws ApiException ValidationException for a URL that cannot be used, an empty or
     *                      unknown event list...; ForbiddenException without the
     *                      `webhooks` permission
     * @throws NetworkException
     */
    public function create(array $params): array
    {
        return $this->transport->request('POST', '/api/v1/webhooks', $params);
    }

    /**
     * One endpoint.
     *
     * @return array{success: bool, data: array{webhook: WebhookEndpoint}}
     *
     * @throws ApiException NotFoundException for an id that is not one of the account's
     * @throws NetworkException
     */
    public function get(int $id): array
    {
        return $this->transport->request('GET', self::path($id));
    }

    /**
     * Change any of `url`, `description`, `events` and `enabled`. `enabled => false` turns
     * the endpoint off (`disabled_reason` "manual"); `enabled => true` turns it back on and
     * forgets its failures (`disabled_reason` and `failing_since` back to null).
     *
     * @param WebhookParams $params
     *
     * @return array{success: bool, data: array{webhook: WebhookEndpoint}}
     *
     * @throws ApiException
     * @throws NetworkException
     */
    public function update(int $id, array $params): array
    {
        return $this->transport->request('PATCH', self::path($id), $params);
    }

    /**
     * Delete an endpoint with its log of deliveries.
     *
     * @return array{success: bool, data: array{id: int}}
     *
     * @throws ApiException
     * @throws NetworkException
     */
    public function delete(int $id): array
    {
        return $this->transport->request('DELETE', self::path($id));
    }

    /**
     * Give the endpoint a new signing secret, returned this once. For $overlapHours (0 to
     * 168; null: none sent, the server's default of 24) the previous secret goes on signing too, so
     * each request carries two signatures and a receiver still on the old secret keeps
     * verifying them while you deploy the new one. 0 drops the old secret at once.
     *
     * @return array{success: bool, data: array{webhook: WebhookEndpoint, secret: string}}
     *
     * @throws ApiException ValidationException for an overlap out of range
     * @throws NetworkException
     */
    public function rotateSecret(int $id, ?int $overlapHours = null): array
    {
        return $this->transport->request(
            'POST',
            self::path($id) . '/rotate-secret',
            $overlapHours === null ? null : ['overlap_hours' => $overlapHours]
        );
    }

    /**
     * The deliveries of events to the endpoint, newest first, 50 per page. A live key sees
     * those of live events, a test key those of test events.
     *
     * @param int|null                               $page   1, 2...; null: the first
     * @param 'pending'|'succeeded'|'failed'|null    $status only the deliveries in this status
     *
     * @return array{
     *     success: bool,
     *     data: array{total: int, page: int, pages: int, deliveries: list<WebhookDelivery>}
     * }
     *
     * @throws ApiException ValidationException for an unknown status or a page past the last
     * @throws NetworkException
     */
    public function deliveries(int $id, ?int $page = null, ?string $status = null): array
    {
        $query = [];
        if ($page !== null) {
            $query['page'] = $page;
        }
        if ($status !== null) {
            $query['status'] = $status;
        }

        return $this->transport->request('GET', self::path($id) . '/deliveries', null, $query);
    }

    /**
     * Try a delivery again now, whatever its status: it goes back to "pending" with the
     * same `event_id`, so a receiver that already has the event can tell. The answer comes
     * at once (202); the attempt follows within seconds.
     *
     * @return array{success: bool, data: array{delivery: WebhookDelivery}}
     *
     * @throws ApiException WebhookDisabledException when the endpoint is turned off;
     *                      NotFoundException for a delivery that is not the endpoint's
     * @throws NetworkException
     */
    public function retryDelivery(int $id, int $deliveryId): array
    {
        return $this->transport->request(
            'POST',
            self::path($id) . '/deliveries/' . self::id($deliveryId, 'delivery') . '/retry'
        );
    }

    /**
     * Queue a signed test event (type "webhook.test") for the endpoint, to check that
     * your receiver gets it and verifies it. The answer (202) is its pending delivery.
     *
     * @return array{success: bool, data: array{delivery: WebhookDelivery}}
     *
     * @throws ApiException WebhookDisabledException when the endpoint is turned off
     * @throws NetworkException
     */
    public function test(int $id): array
    {
        return $this->transport->request('POST', self::path($id) . '/test');
    }

    /**
     * @return array<string, mixed>
     */
    public function __debugInfo(): array
    {
        return ['transport' => $this->transport];
    }

    private static function path(int $id): string
    {
        return '/api/v1/webhooks/' . self::id($id, 'webhook');
    }

    private static function id(int $id, string $what): string
    {
        if ($id < 1) {
            throw new InvalidArgumentException(sprintf('The %s id must be 1 or more, not %d.', $what, $id));
        }

        return (string) $id;
    }
}
