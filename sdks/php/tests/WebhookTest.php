<?php

declare(strict_types=1);

namespace MailPass\Tests;

use MailPass\Exception\InvalidArgumentException;
use MailPass\Exception\MailPassException;
use MailPass\Exception\WebhookVerificationException;
use MailPass\Webhook;

/**
 * MailPass\Webhook::verify(), the receiver's check, on the Standard Webhooks vector and on
 * requests altered every way it must notice.
 */
final class WebhookTest extends TestCase
{
    // The known vector, made with the standardwebhooks Python package.
    private const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    private const ID = 'msg_p5jXN8AQM9LWM0D4loKWxJek';
    private const TIMESTAMP = 1733306400;
    private const BODY = '{"type":"email.delivered","test":true}';
    private const SIGNATURE = 'v1,5h3bA8xPOby/eWQMFLkf3/Oq1qkCluE+gH+H9B4Ig70=';

    /** @return array<string, string> */
    private static function headers(string $signature = self::SIGNATURE): array
    {
        return [
            'webhook-id' => self::ID,
            'webhook-timestamp' => (string) self::TIMESTAMP,
            'webhook-signature' => $signature,
        ];
    }

    /** A v1 signature of $body, made here with the same recipe as MailPass's. */
    private static function sign(string $secret, string $id, int $timestamp, string $body): string
    {
        $key = base64_decode(substr($secret, strlen('whsec_')), true);

        return 'v1,' . base64_encode(hash_hmac('sha256', "$id.$timestamp.$body", (string) $key, true));
    }

    private static function refused(string $expected, callable $call): WebhookVerificationException
    {
        $error = self::throws(WebhookVerificationException::class, $call);
        self::assertStringContainsString($expected, $error->getMessage());

        return $error;
    }

    public function testTheKnownVectorVerifiesAndGivesTheEvent(): void
    {
        $event = Webhook::verify(self::BODY, self::headers(), self::SECRET, 300, self::TIMESTAMP);
        self::assertSame(['type' => 'email.delivered', 'test' => true], $event);

        // The same, with the default tolerance, and a clock a little off either way.
        self::assertSame($event, Webhook::verify(self::BODY, self::headers(), self::SECRET, now: self::TIMESTAMP + 300));
        self::assertSame($event, Webhook::verify(self::BODY, self::headers(), self::SECRET, now: self::TIMESTAMP - 300));
        self::assertSame(300, Webhook::DEFAULT_TOLERANCE);
    }

    public function testHeaderNamesInAnyCaseAndTheUsualShapes(): void
    {
        $shapes = [
            'getallheaders()' => [
                'Webhook-Id' => self::ID,
                'WEBHOOK-TIMESTAMP' => (string) self::TIMESTAMP,
                'Webhook-Signature' => self::SIGNATURE,
                'Content-Type' => 'application/json',
            ],
            'PSR-7 getHeaders()' => [
                'webhook-id' => [self::ID],
                'Webhook-Timestamp' => [(string) self::TIMESTAMP],
                'Webhook-Signature' => [self::SIGNATURE],
            ],
            '$_SERVER' => [
                'HTTP_WEBHOOK_ID' => self::ID,
                'HTTP_WEBHOOK_TIMESTAMP' => (string) self::TIMESTAMP,
                'HTTP_WEBHOOK_SIGNATURE' => self::SIGNATURE,
                'REQUEST_METHOD' => 'POST',
                0 => 'ignored',
            ],
        ];
        foreach ($shapes as $shape => $headers) {
            $event = Webhook::verify(self::BODY, $headers, self::SECRET, 300, self::TIMESTAMP);
            self::assertSame('email.delivered', $event['type'], $shape);
        }
    }

    public function testATamperedBodyIsRefused(): void
    {
        $tampered = str_replace('true', 'false', self::BODY);
        self::refused('No webhook signature matches', fn () => Webhook::verify(
            $tampered, self::headers(), self::SECRET, 300, self::TIMESTAMP
        ));
        // Even one byte more: the body is checked exactly as received.
        self::refused('No webhook signature matches', fn () => Webhook::verify(
            self::BODY . "\n", self::headers(), self::SECRET, 300, self::TIMESTAMP
        ));
        // And so are the id and the timestamp that the signature covers.
        self::refused('No webhook signature matches', fn () => Webhook::verify(
            self::BODY, ['webhook-id' => 'msg_other'] + self::headers(), self::SECRET, 300, self::TIMESTAMP
        ));
        self::refused('No webhook signature matches', fn () => Webhook::verify(
            self::BODY, ['webhook-timestamp' => (string) (self::TIMESTAMP + 1)] + self::headers(), self::SECRET, 300, self::TIMESTAMP
        ));
    }

    public function testTheWrongSecretIsRefused(): void
    {
        $other = 'whsec_' . base64_encode(random_bytes(32));
        $error = self::refused('No webhook signature matches', fn () => Webhook::verify(
            self::BODY, self::headers(), $other, 300, self::TIMESTAMP
        ));
        self::assertInstanceOf(MailPassException::class, $error);
        self::assertStringNotContainsString($other, $error->getMessage());
    }

    public function testATimestampOutsideTheToleranceIsRefusedEvenWellSigned(): void
    {
        self::refused('too old', fn () => Webhook::verify(
            self::BODY, self::headers(), self::SECRET, 300, self::TIMESTAMP + 301
        ));
        self::refused('in the future', fn () => Webhook::verify(
            self::BODY, self::headers(), self::SECRET, 300, self::TIMESTAMP - 301
        ));
        self::refused('too old', fn () => Webhook::verify(
            self::BODY, self::headers(), self::SECRET, 10, self::TIMESTAMP + 11
        ));
        // Without $now, the real clock: a request of 2024 is long past.
        self::refused('too old', fn () => Webhook::verify(self::BODY, self::headers(), self::SECRET));

        // Signed now, it passes on the real clock.
        $now = time();
        $signature = self::sign(self::SECRET, self::ID, $now, self::BODY);
        $headers = ['webhook-timestamp' => (string) $now, 'webhook-signature' => $signature] + self::headers();
        self::assertTrue(Webhook::verify(self::BODY, $headers, self::SECRET)['test']);
    }

    public function testTwoSignaturesWhereTheSecondMatches(): void
    {
        $old = self::sign('whsec_' . base64_encode(random_bytes(32)), self::ID, self::TIMESTAMP, self::BODY);
        $event = Webhook::verify(self::BODY, self::headers("$old " . self::SIGNATURE), self::SECRET, 300, self::TIMESTAMP);
        self::assertSame('email.delivered', $event['type']);

        // Two header lines (a PSR-7 list) count the same as one space-separated line.
        $lines = ['webhook-signature' => [$old, self::SIGNATURE]] + self::headers();
        self::assertSame($event, Webhook::verify(self::BODY, $lines, self::SECRET, 300, self::TIMESTAMP));

        // Neither matching: refused.
        self::refused('No webhook signature matches', fn () => Webhook::verify(
            self::BODY, self::headers("$old $old"), self::SECRET, 300, self::TIMESTAMP
        ));
    }

    public function testOnlyV1SignaturesCount(): void
    {
        $sig = substr(self::SIGNATURE, strlen('v1,'));
        foreach (["v2,$sig", $sig, "v1a,$sig", "v1,$sig=", 'v1,'] as $signature) {
            self::refused('No webhook signature matches', fn () => Webhook::verify(
                self::BODY, self::headers($signature), self::SECRET, 300, self::TIMESTAMP
            ));
        }
        $event = Webhook::verify(self::BODY, self::headers("v2,$sig " . self::SIGNATURE), self::SECRET, 300, self::TIMESTAMP);
        self::assertTrue($event['test']);
    }

    public function testAMissingHeaderIsRefused(): void
    {
        foreach (['webhook-id', 'webhook-timestamp', 'webhook-signature'] as $name) {
            $without = self::headers();
            unset($without[$name]);
            self::refused("The $name header is missing", fn () => Webhook::verify(
                self::BODY, $without, self::SECRET, 300, self::TIMESTAMP
            ));
            $empty = [$name => '  '] + self::headers();
            self::refused("The $name header is missing", fn () => Webhook::verify(
                self::BODY, $empty, self::SECRET, 300, self::TIMESTAMP
            ));
        }
        self::refused('is missing', fn () => Webhook::verify(self::BODY, [], self::SECRET, 300, self::TIMESTAMP));
    }

    public function testAMalformedOrRepeatedHeaderIsRefused(): void
    {
        foreach (['soon', '-1', '1733306400.5', '1e9', str_repeat('9', 20)] as $timestamp) {
            self::refused('not a Unix time', fn () => Webhook::verify(
                self::BODY, ['webhook-timestamp' => $timestamp] + self::headers(), self::SECRET, 300, self::TIMESTAMP
            ));
        }
        $twice = ['webhook-id' => self::ID, 'Webhook-Id' => 'msg_other'] + self::headers();
        self::refused('more than one webhook-id', fn () => Webhook::verify(
            self::BODY, $twice, self::SECRET, 300, self::TIMESTAMP
        ));
        // The same value twice is one value.
        $same = ['webhook-id' => [self::ID, self::ID]] + self::headers();
        self::assertTrue(Webhook::verify(self::BODY, $same, self::SECRET, 300, self::TIMESTAMP)['test']);
    }

    public function testASignedBodyThatIsNotAJsonObjectIsRefused(): void
    {
        foreach (['[1,2]', 'not json', '"text"', ''] as $body) {
            $headers = self::headers(self::sign(self::SECRET, self::ID, self::TIMESTAMP, $body));
            self::refused('not a JSON object', fn () => Webhook::verify($body, $headers, self::SECRET, 300, self::TIMESTAMP));
        }
        $body = '{"type":"webhook.test","data":{"webhook_id":7,"message":"This is a test event from MailPass."}}';
        $headers = self::headers(self::sign(self::SECRET, self::ID, self::TIMESTAMP, $body));
        $event = Webhook::verify($body, $headers, self::SECRET, 300, self::TIMESTAMP);
        self::assertSame(7, $event['data']['webhook_id']);
    }

    public function testASecretThatIsNotOneOrANegativeToleranceIsTheReceiversMistake(): void
    {
        foreach (['', 'whsec_', 'whsec_not base64!', 'mp_live_abc'] as $secret) {
            $error = self::throws(InvalidArgumentException::class, fn () => Webhook::verify(
                self::BODY, self::headers(), $secret, 300, self::TIMESTAMP
            ));
            self::assertStringContainsString('whsec_', $error->getMessage());
        }
        // The base64 part alone, without the prefix, is the same key.
        $bare = substr(self::SECRET, strlen('whsec_'));
        self::assertTrue(Webhook::verify(self::BODY, self::headers(), $bare, 300, self::TIMESTAMP)['test']);

        self::throws(InvalidArgumentException::class, fn () => Webhook::verify(
            self::BODY, self::headers(), self::SECRET, -1, self::TIMESTAMP
        ));
    }
}
