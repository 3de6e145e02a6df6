<?php

declare(strict_types=1);

namespace MailPass\Tests;

use MailPass\Exception\ForbiddenException;
use MailPass\Exception\InvalidArgumentException;
use MailPass\Exception\NotFoundException;
use MailPass\Exception\ValidationException;
use MailPass\Exception\WebhookDisabledException;

/**
 * $client->webhooks: each call's method, path, query and body as the echo fake receives
 * them, and the errors they map to.
 */
final class WebhooksTest extends TestCase
{
    public function testListAsksForAPageOnlyWhenGivenOne(): void
    {
        $client = self::echo();
        $first = self::received($client->webhooks->list());
        self::assertSame(['GET', '/api/v1/webhooks', null], [$first['method'], $first['uri'], $first['body']]);

        $second = self::received($client->webhooks->list(2));
        self::assertSame(['GET', '/api/v1/webhooks?page=2'], [$second['method'], $second['uri']]);
    }

    public function testCreatePostsTheFieldsAsGiven(): void
    {
        $client = self::echo();
        $params = [
            'url' => 'https://app.example.com/hooks/mailpass',
            'description' => 'Production app',
            'events' => ['delivered', 'bounced'],
            'enabled' => false,
        ];
        $sent = self::received($client->webhooks->create($params));
        self::assertSame(['POST', '/api/v1/webhooks'], [$sent['method'], $sent['uri']]);
        self::assertSame('application/json', $sent['content_type']);
        self::assertSame($params, $sent['body']);
        self::assertNull($sent['idempotency_key']);

        $bare = self::received($client->webhooks->create(['url' => 'https://app.example.com/h']));
        self::assertSame('{"url":"https://app.example.com/h"}', $bare['raw_body']);

        // An empty event list stays a list, for the server to refuse (not an object).
        $none = self::received($client->webhooks->create(['url' => 'https://a.example/h', 'events' => []]));
        self::assertSame('{"url":"https://a.example/h","events":[]}', $none['raw_body']);
    }

    public function testGetUpdateAndDeleteNameTheEndpointByItsId(): void
    {
        $client = self::echo();
        $got = self::received($client->webhooks->get(7));
        self::assertSame(['GET', '/api/v1/webhooks/7', ''], [$got['method'], $got['uri'], $got['raw_body']]);

        $updated = self::received($client->webhooks->update(7, ['enabled' => false, 'events' => ['opened']]));
        self::assertSame(['PATCH', '/api/v1/webhooks/7'], [$updated['method'], $updated['uri']]);
        self::assertSame('{"enabled":false,"events":["opened"]}', $updated['raw_body']);
        self::assertSame('application/json', $updated['content_type']);

        $deleted = self::received($client->webhooks->delete(12345));
        self::assertSame(
            ['DELETE', '/api/v1/webhooks/12345', ''],
            [$deleted['method'], $deleted['uri'], $deleted['raw_body']]
        );
    }

    public function testRotateSecretSendsTheOverlapOnlyWhenGivenOne(): void
    {
        $client = self::echo();
        $plain = self::received($client->webhooks->rotateSecret(7));
        self::assertSame(['POST', '/api/v1/webhooks/7/rotate-secret'], [$plain['method'], $plain['uri']]);
        self::assertSame('', $plain['raw_body']);

        $overlap = self::received($client->webhooks->rotateSecret(7, 48));
        self::assertSame('/api/v1/webhooks/7/rotate-secret', $overlap['uri']);
        self::assertSame('{"overlap_hours":48}', $overlap['raw_body']);
        self::assertSame('application/json', $overlap['content_type']);

        $none = self::received($client->webhooks->rotateSecret(7, 0));
        self::assertSame('{"overlap_hours":0}', $none['raw_body']);
    }

    public function testDeliveriesAsksForAPageAndAStatusOnlyWhenGiven(): void
    {
        $client = self::echo();
        $cases = [
            [null, null, '/api/v1/webhooks/7/deliveries'],
            [2, null, '/api/v1/webhooks/7/deliveries?page=2'],
            [null, 'failed', '/api/v1/webhooks/7/deliveries?status=failed'],
            [3, 'pending', '/api/v1/webhooks/7/deliveries?page=3&status=pending'],
        ];
        foreach ($cases as [$page, $status, $uri]) {
            $sent = self::received($client->webhooks->deliveries(7, $page, $status));
            self::assertSame(['GET', $uri, null], [$sent['method'], $sent['uri'], $sent['body']]);
        }
    }

    public function testRetryDeliveryAndTestPostWithoutABody(): void
    {
        $client = self::echo();
        $retry = self::received($client->webhooks->retryDelivery(7, 991));
        self::assertSame(
            ['POST', '/api/v1/webhooks/7/deliveries/991/retry', ''],
            [$retry['method'], $retry['uri'], $retry['raw_body']]
        );
        self::assertNull($retry['idempotency_key']);

        $test = self::received($client->webhooks->test(7));
        self::assertSame(['POST', '/api/v1/webhooks/7/test', ''], [$test['method'], $test['uri'], $test['raw_body']]);
        self::assertNull($test['idempotency_key']);
    }

    public function testAnIdBelowOneIsRefusedBeforeAnyRequest(): void
    {
        $client = self::echo('error-NOT_FOUND'); // were a request made, NotFoundException
        $calls = [
            fn () => $client->webhooks->get(0),
            fn () => $client->webhooks->update(-1, ['enabled' => true]),
            fn () => $client->webhooks->delete(0),
            fn () => $client->webhooks->rotateSecret(0, 1),
            fn () => $client->webhooks->deliveries(-7),
            fn () => $client->webhooks->retryDelivery(7, 0),
            fn () => $client->webhooks->retryDelivery(0, 991),
            fn () => $client->webhooks->test(0),
        ];
        foreach ($calls as $call) {
            $error = self::throws(InvalidArgumentException::class, $call);
            self::assertStringContainsString('id must be 1 or more', $error->getMessage());
        }
    }

    public function testWebhookDisabledIsItsOwnException(): void
    {
        $client = self::echo('error-WEBHOOK_DISABLED');
        foreach ([fn () => $client->webhooks->test(7), fn () => $client->webhooks->retryDelivery(7, 991)] as $call) {
            $error = self::throws(WebhookDisabledException::class, $call);
            self::assertApiError($error, WebhookDisabledException::class, 'WEBHOOK_DISABLED', 409);
            self::assertSame('This webhook endpoint is disabled; enable it first.', $error->getMessage());
            self::assertSame([], $error->getDetails());
        }
    }

    public function testTheOtherErrorsOfWebhooksMapAsEverywhere(): void
    {
        $invalid = self::throws(
            ValidationException::class,
            fn () => self::echo('error-VALIDATION_ERROR')->webhooks->create(['url' => 'http://10.0.0.1/h'])
        );
        self::assertApiError($invalid, ValidationException::class, 'VALIDATION_ERROR', 400);

        $unknown = self::throws(NotFoundException::class, fn () => self::echo('error-NOT_FOUND')->webhooks->get(99));
        self::assertApiError($unknown, NotFoundException::class, 'NOT_FOUND', 404);

        $forbidden = self::throws(
            ForbiddenException::class,
            fn () => self::echo('error-FORBIDDEN')->webhooks->list()
        );
        self::assertApiError($forbidden, ForbiddenException::class, 'FORBIDDEN', 403);
    }
}
