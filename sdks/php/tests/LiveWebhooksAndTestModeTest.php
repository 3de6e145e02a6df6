<?php

declare(strict_types=1);

namespace MailPass\Tests;

use MailPass\Exception\ForbiddenException;
use MailPass\Exception\NotFoundException;
use MailPass\Exception\ValidationException;
use MailPass\Exception\WebhookDisabledException;
use MailPass\Webhook;

/**
 * Webhook endpoints and test mode against the live server.
 *
 * MAILPASS_TEST_KEY_WEBHOOKS has the `mail` and `webhooks` permissions (MAILPASS_TEST_KEY has
 * `mail` only); the server must allow private hosts, as a development instance does, for
 * the endpoint http://127.0.0.1:9/hook. Nothing listens there and no webhook worker runs,
 * so its deliveries stay pending. MAILPASS_TEST_KEY_TEST_MODE is a test key (mp_test_…,
 * `mail` and `webhooks`); testATestKeySendsNothing() needs nothing else, so it runs
 * against any instance without sending a thing. testLiveAndTestDataNeverMix() also wants
 * MAILPASS_TEST_KEY_NO_PROVIDER, a live key of the test key's account, which has no provider.
 */
final class LiveWebhooksAndTestModeTest extends TestCase
{
    private const URL = 'http://127.0.0.1:9/hook';

    private const UTC = '/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/';

    private const ENDPOINT_FIELDS = [
        'id', 'url', 'description', 'events', 'enabled', 'disabled_reason', 'failing_since',
        'created_at', 'updated_at', 'secret_rotated_at', 'previous_secret_expires_at',
    ];

    private const DELIVERY_FIELDS = [
        'id', 'event_id', 'type', 'test', 'status', 'attempts', 'created_at', 'next_attempt_at',
        'last_attempt_at', 'response_code', 'duration_ms', 'error',
    ];

    public function testAnEndpointFromCreateToDelete(): void
    {
        $client = self::live('MAILPASS_TEST_KEY_WEBHOOKS');

        // Create: the secret, shown this once, is one Webhook::verify() takes.
        $created = $client->webhooks->create([
            'url' => self::URL,
            'description' => 'PHP SDK suite',
            'events' => ['bounced', 'delivered'],
        ]);
        self::assertTrue($created['success']);
        $secret = $created['data']['secret'];
        self::assertStringStartsWith('whsec_', $secret);
        $webhook = $created['data']['webhook'];
        self::assertSame(self::ENDPOINT_FIELDS, array_keys($webhook));
        self::assertIsInt($webhook['id']);
        self::assertSame(self::URL, $webhook['url']);
        self::assertSame('PHP SDK suite', $webhook['description']);
        self::assertSame(['delivered', 'bounced'], $webhook['events']); // in the API's order
        self::assertTrue($webhook['enabled']);
        self::assertNull($webhook['disabled_reason']);
        self::assertNull($webhook['failing_since']);
        self::assertNull($webhook['secret_rotated_at']);
        self::assertNull($webhook['previous_secret_expires_at']);
        self::assertMatchesRegularExpression(self::UTC, $webhook['created_at']);
        $id = $webhook['id'];
        self::assertSelfSigned($secret);

        // Without `events`: all of them.
        $all = $client->webhooks->create(['url' => self::URL . '/all']);
        self::assertSame(\MailPass\Resource\Webhooks::EVENTS, $all['data']['webhook']['events']);
        self::assertSame(['id' => $all['data']['webhook']['id']], $client->webhooks->delete($all['data']['webhook']['id'])['data']);

        // Refused: an empty or unknown event list, a URL that is not http(s), no permission.
        foreach ([['events' => []], ['events' => ['delivered', 'teleported']]] as $bad) {
            $error = self::throws(ValidationException::class, fn () => $client->webhooks->create(['url' => self::URL] + $bad));
            self::assertApiError($error, ValidationException::class, 'VALIDATION_ERROR', 400);
            self::assertArrayHasKey('events', $error->getDetails());
        }
        $ftp = self::throws(ValidationException::class, fn () => $client->webhooks->create(['url' => 'ftp://127.0.0.1/hook']));
        self::assertArrayHasKey('url', $ftp->getDetails());

        // Read it back, alone and in the list.
        self::assertSame(['webhook' => $webhook], $client->webhooks->get($id)['data']);
        $listed = $client->webhooks->list()['data'];
        self::assertSame([1, 1], [$listed['page'], $listed['pages']]);
        self::assertContains($webhook, $listed['webhooks']);
        self::assertSame($listed, $client->webhooks->list(1)['data']);
        $past = self::throws(ValidationException::class, fn () => $client->webhooks->list(99));
        self::assertArrayHasKey('page', $past->getDetails());

        // Update: events and description; then off by hand.
        $updated = $client->webhooks->update($id, ['events' => ['opened', 'clicked'], 'description' => 'Changed']);
        self::assertSame(['opened', 'clicked'], $updated['data']['webhook']['events']);
        self::assertSame('Changed', $updated['data']['webhook']['description']);
        $off = $client->webhooks->update($id, ['enabled' => false])['data']['webhook'];
        self::assertFalse($off['enabled']);
        self::assertSame('manual', $off['disabled_reason']);

        // A disabled endpoint takes no test event.
        $disabled = self::throws(WebhookDisabledException::class, fn () => $client->webhooks->test($id));
        self::assertApiError($disabled, WebhookDisabledException::class, 'WEBHOOK_DISABLED', 409);

        // Back on: the test event is queued, a pending delivery.
        $on = $client->webhooks->update($id, ['enabled' => true])['data']['webhook'];
        self::assertTrue($on['enabled']);
        self::assertNull($on['disabled_reason']);
        self::assertNull($on['failing_since']);
        $delivery = $client->webhooks->test($id)['data']['delivery'];
        self::assertSame(self::DELIVERY_FIELDS, array_keys($delivery));
        self::assertIsInt($delivery['id']);
        self::assertStringStartsWith('msg_', $delivery['event_id']);
        self::assertSame(['webhook.test', 'pending'], [$delivery['type'], $delivery['status']]);
        // A test event when the key is a test key.
        self::assertSame(str_starts_with(self::env('MAILPASS_TEST_KEY_WEBHOOKS'), 'mp_test_'), $delivery['test']);
        self::assertMatchesRegularExpression(self::UTC, $delivery['created_at']);

        // The log lists it, by status too.
        $deliveries = $client->webhooks->deliveries($id)['data'];
        self::assertSame(1, $deliveries['total']);
        self::assertSame([$delivery['id']], array_column($deliveries['deliveries'], 'id'));
        self::assertSame(1, $client->webhooks->deliveries($id, 1, 'pending')['data']['total']);
        self::assertSame(0, $client->webhooks->deliveries($id, null, 'succeeded')['data']['total']);
        $status = self::throws(ValidationException::class, fn () => $client->webhooks->deliveries($id, null, 'lost'));
        self::assertArrayHasKey('status', $status->getDetails());

        // Retry it: pending again, the same event.
        $retried = $client->webhooks->retryDelivery($id, $delivery['id'])['data']['delivery'];
        self::assertSame(
            [$delivery['id'], $delivery['event_id'], 'pending'],
            [$retried['id'], $retried['event_id'], $retried['status']]
        );
        self::assertNotNull($retried['next_attempt_at']);
        $noSuch = self::throws(NotFoundException::class, fn () => $client->webhooks->retryDelivery($id, $delivery['id'] + 1000));
        self::assertApiError($noSuch, NotFoundException::class, 'NOT_FOUND', 404);
        $client->webhooks->update($id, ['enabled' => false]);
        self::throws(WebhookDisabledException::class, fn () => $client->webhooks->retryDelivery($id, $delivery['id']));
        $client->webhooks->update($id, ['enabled' => true]);

        // Rotate: a new secret; the old one signs on for the overlap (24 h unless told).
        $rotated = $client->webhooks->rotateSecret($id)['data'];
        self::assertStringStartsWith('whsec_', $rotated['secret']);
        self::assertNotSame($secret, $rotated['secret']);
        self::assertMatchesRegularExpression(self::UTC, (string) $rotated['webhook']['secret_rotated_at']);
        self::assertMatchesRegularExpression(self::UTC, (string) $rotated['webhook']['previous_secret_expires_at']);
        $expires = new \DateTimeImmutable($rotated['webhook']['previous_secret_expires_at']);
        self::assertEqualsWithDelta(time() + 24 * 3600, $expires->getTimestamp(), 120);
        self::assertSelfSigned($rotated['secret']);
        $now = $client->webhooks->rotateSecret($id, 0)['data'];
        self::assertNotSame($rotated['secret'], $now['secret']);
        self::assertNull($now['webhook']['previous_secret_expires_at']);
        $tooLong = self::throws(ValidationException::class, fn () => $client->webhooks->rotateSecret($id, 169));
        self::assertArrayHasKey('overlap_hours', $tooLong->getDetails());

        // Delete: gone, with its deliveries.
        self::assertSame(['success' => true, 'data' => ['id' => $id]], $client->webhooks->delete($id));
        $gone = self::throws(NotFoundException::class, fn () => $client->webhooks->get($id));
        self::assertApiError($gone, NotFoundException::class, 'NOT_FOUND', 404);
        self::throws(NotFoundException::class, fn () => $client->webhooks->delete($id));
        self::throws(NotFoundException::class, fn () => $client->webhooks->deliveries($id));
    }

    public function testWithoutTheWebhooksPermissionItIsForbidden(): void
    {
        $client = self::live(); // `mail` only
        $calls = [
            fn () => $client->webhooks->list(),
            fn () => $client->webhooks->create(['url' => self::URL]),
            fn () => $client->webhooks->test(1),
        ];
        foreach ($calls as $call) {
            $error = self::throws(ForbiddenException::class, $call);
            self::assertApiError($error, ForbiddenException::class, 'FORBIDDEN', 403);
        }
    }

    public function testATestKeySendsNothing(): void
    {
        self::assertStringStartsWith('mp_test_', self::env('MAILPASS_TEST_KEY_TEST_MODE'));
        $test = self::live('MAILPASS_TEST_KEY_TEST_MODE');

        // delivered@: "sent" from /send (no provider needed, none contacted), then delivered.
        $sent = $test->mail->send(['to' => 'delivered@test.mailpass.invalid'] + self::message());
        self::assertSame('sent', $sent['data']['status']);
        $status = $test->mail->status($sent['data']['message_id'])['data'];
        self::assertTrue($status['message']['test']);
        self::assertSame('delivered', $status['message']['status']);
        // (Being sent is the message's status, not one of its events, as for a live message.)
        self::assertSame(['delivered'], array_column($status['events'], 'event_type'));
        self::assertStringContainsString('Test mode', $status['events'][0]['description']);

        // clicked+label@: delivered, opened, then its first link clicked.
        $html = '<p>Your order: <a href="https://shop.example.com/orders/1">see it</a></p>';
        $sent = $test->mail->send(['to' => 'clicked+php@test.mailpass.invalid', 'html' => $html] + self::message());
        $events = $test->mail->status($sent['data']['message_id'])['data']['events'];
        self::assertSame(['delivered', 'open', 'click'], array_column($events, 'event_type'));
        self::assertSame('https://shop.example.com/orders/1', $events[2]['url']);

        // bounced+label@: a hard bounce; the address becomes a (test) suppression.
        $bounced = self::bouncedAddress();
        $sent = $test->mail->send(['to' => $bounced] + self::message());
        self::assertSame('sent', $sent['data']['status']);
        self::assertSame('bounced', $test->mail->status($sent['data']['message_id'])['data']['message']['status']);
        self::assertSame(1, $test->suppressions->list(['email' => $bounced])['data']['total']);
    }

    public function testLiveAndTestDataNeverMix(): void
    {
        $test = self::live('MAILPASS_TEST_KEY_TEST_MODE');
        $sameAccountLive = self::live('MAILPASS_TEST_KEY_NO_PROVIDER');
        $otherAccountLive = self::live(); // MAILPASS_TEST_KEY

        // A test message: the test key finds it, no live key does, its own account's neither.
        $sent = $test->mail->send(['to' => 'delivered@test.mailpass.invalid'] + self::message());
        $messageId = $sent['data']['message_id'];
        self::assertTrue($test->mail->status($messageId)['data']['message']['test']);
        foreach ([$sameAccountLive, $otherAccountLive] as $live) {
            $error = self::throws(NotFoundException::class, fn () => $live->mail->status($messageId));
            self::assertApiError($error, NotFoundException::class, 'NOT_FOUND', 404);
        }

        // A live message says it is not a test, and a test key does not find it.
        $liveId = $otherAccountLive->mail->send(
            ['to' => self::address('live-mode'), 'subject' => 'Live', 'text' => 'Live.']
        )['data']['message_id'];
        self::assertFalse($otherAccountLive->mail->status($liveId)['data']['message']['test']);
        self::throws(NotFoundException::class, fn () => $test->mail->status($liveId));

        // A suppression caused in test mode holds for test keys only.
        $bounced = self::bouncedAddress();
        $test->mail->send(['to' => $bounced] + self::message());
        self::assertSame(1, $test->suppressions->list(['email' => $bounced])['data']['total']);
        self::assertSame(0, $sameAccountLive->suppressions->list(['email' => $bounced])['data']['total']);

        // The account has no provider: a test message needs no provider but its `from`.
        $noFrom = self::throws(ValidationException::class, fn () => $test->mail->send(
            ['to' => 'delivered@test.mailpass.invalid', 'subject' => 'x', 'text' => 'x']
        ));
        self::assertArrayHasKey('from_email', $noFrom->getDetails());
    }

    /** @return array<string, string> */
    private static function message(): array
    {
        return ['subject' => 'Test mode', 'text' => 'Never sent.', 'from_email' => 'shop@example.com'];
    }

    /** A bounced@ address of its own, through a +label. */
    private static function bouncedAddress(): string
    {
        return 'bounced+php-' . bin2hex(random_bytes(4)) . '@test.mailpass.invalid';
    }

    /** $secret is a whsec_ secret that Webhook::verify() takes: sign with it, verify. */
    private static function assertSelfSigned(string $secret): void
    {
        $key = base64_decode(substr($secret, strlen('whsec_')), true);
        self::assertIsString($key);
        self::assertSame(32, strlen($key));
        $body = '{"type":"webhook.test","data":{}}';
        $now = time();
        $signature = base64_encode(hash_hmac('sha256', "msg_1.$now.$body", $key, true));
        $headers = ['webhook-id' => 'msg_1', 'webhook-timestamp' => (string) $now, 'webhook-signature' => "v1,$signature"];
        self::assertSame('webhook.test', Webhook::verify($body, $headers, $secret)['type']);
    }
}
