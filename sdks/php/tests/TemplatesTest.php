<?php

declare(strict_types=1);

namespace MailPass\Tests;

use MailPass\Exception\ForbiddenException;
use MailPass\Exception\InvalidArgumentException;
use MailPass\Exception\NotFoundException;
use MailPass\Exception\TemplateInUseException;
use MailPass\Exception\ValidationException;

/**
 * $client->templates: each call's method, path, query and body as the echo fake receives
 * them, and the errors they map to.
 */
final class TemplatesTest extends TestCase
{
    public function testListAsksForAPageOnlyWhenGivenOne(): void
    {
        $client = self::echo();
        $first = self::received($client->templates->list());
        self::assertSame(['GET', '/api/v1/templates', null], [$first['method'], $first['uri'], $first['body']]);

        $second = self::received($client->templates->list(2));
        self::assertSame('/api/v1/templates?page=2', $second['uri']);
    }

    public function testCreatePostsTheFieldsWithEmptyDefaultsAsAnObject(): void
    {
        $client = self::echo();
        $params = [
            'name' => 'Order shipped',
            'alias' => 'order-shipped',
            'subject' => 'Order {{order_id}} shipped',
            'html' => '<p>Hi {{name}}</p>',
            'text' => 'Hi {{name}}',
            'defaults' => ['name' => 'there'],
        ];
        $sent = self::received($client->templates->create($params));
        self::assertSame(['POST', '/api/v1/templates'], [$sent['method'], $sent['uri']]);
        self::assertSame('application/json', $sent['content_type']);
        self::assertSame($params, $sent['body']);
        self::assertNull($sent['idempotency_key']);

        $bare = self::received($client->templates->create(
            ['name' => 'Bare', 'alias' => 'bare', 'subject' => 'Hi', 'text' => 'Hi', 'defaults' => []]
        ));
        self::assertSame('{"name":"Bare","alias":"bare","subject":"Hi","text":"Hi","defaults":{}}', $bare['raw_body']);
    }

    public function testGetByIdOrAliasEncodesItAndAsksForAVersion(): void
    {
        $client = self::echo();
        $cases = [
            [12, null, '/api/v1/templates/12'],
            ['order-shipped', null, '/api/v1/templates/order-shipped'],
            ['order-shipped', 3, '/api/v1/templates/order-shipped?version=3'],
            ['a b/c?d#e', null, '/api/v1/templates/a%20b%2Fc%3Fd%23e'],
            ['ünï', 1, '/api/v1/templates/%C3%BCn%C3%AF?version=1'],
        ];
        foreach ($cases as [$idOrAlias, $version, $uri]) {
            $sent = self::received($client->templates->get($idOrAlias, $version));
            self::assertSame(['GET', $uri, null], [$sent['method'], $sent['uri'], $sent['body']]);
        }
    }

    public function testUpdatePatchesTheTemplateWithTheGivenFields(): void
    {
        $client = self::echo();
        $sent = self::received($client->templates->update('order-shipped', ['subject' => 'Shipped: {{order_id}}']));
        self::assertSame(['PATCH', '/api/v1/templates/order-shipped'], [$sent['method'], $sent['uri']]);
        self::assertSame(['subject' => 'Shipped: {{order_id}}'], $sent['body']);

        $cleared = self::received($client->templates->update(7, ['defaults' => []]));
        self::assertSame('/api/v1/templates/7', $cleared['uri']);
        self::assertSame('{"defaults":{}}', $cleared['raw_body']);
    }

    public function testDeleteSendsNoBody(): void
    {
        $sent = self::received(self::echo()->templates->delete('order-shipped'));
        self::assertSame(
            ['DELETE', '/api/v1/templates/order-shipped', ''],
            [$sent['method'], $sent['uri'], $sent['raw_body']]
        );
    }

    public function testRenderPostsVariablesAlwaysAsAnObjectAndTheVersionWhenGiven(): void
    {
        $client = self::echo();
        $plain = self::received($client->templates->render('order-shipped'));
        self::assertSame(['POST', '/api/v1/templates/order-shipped/render'], [$plain['method'], $plain['uri']]);
        self::assertSame('{"variables":{}}', $plain['raw_body']);

        $variables = ['name' => 'Ada', 'order_id' => 'A-1', 'lines' => [['sku' => 'x']]];
        $full = self::received($client->templates->render(12, $variables, 2));
        self::assertSame('/api/v1/templates/12/render', $full['uri']);
        self::assertSame(['variables' => $variables, 'version' => 2], $full['body']);
    }

    public function testAnEmptyAliasIsRefusedBeforeAnyRequest(): void
    {
        $client = self::echo();
        $calls = [
            fn () => $client->templates->get(''),
            fn () => $client->templates->update(' ', ['name' => 'x']),
            fn () => $client->templates->delete(''),
            fn () => $client->templates->render("\t"),
        ];
        foreach ($calls as $call) {
            self::throws(InvalidArgumentException::class, $call);
        }
    }

    public function testTemplateInUseIsItsOwnExceptionWithTheScheduledCount(): void
    {
        $error = self::throws(
            TemplateInUseException::class,
            fn () => self::echo('error-TEMPLATE_IN_USE')->templates->delete('order-shipped')
        );
        self::assertApiError($error, TemplateInUseException::class, 'TEMPLATE_IN_USE', 409);
        self::assertSame(['scheduled' => 2], $error->getDetails());
        self::assertNull($error->getMessageId());
    }

    public function testTheOtherErrorsOfTemplatesMapAsEverywhere(): void
    {
        $missing = self::throws(
            ValidationException::class,
            fn () => self::echo('error-VALIDATION_ERROR')->templates->render('order-shipped')
        );
        self::assertApiError($missing, ValidationException::class, 'VALIDATION_ERROR', 400);
        self::assertSame(['Missing: name, order_id'], $missing->getDetails()['template']['variables']);

        $unknown = self::throws(NotFoundException::class, fn () => self::echo('error-NOT_FOUND')->templates->get(99));
        self::assertApiError($unknown, NotFoundException::class, 'NOT_FOUND', 404);

        $forbidden = self::throws(
            ForbiddenException::class,
            fn () => self::echo('error-FORBIDDEN')->templates->create(['name' => 'x'])
        );
        self::assertApiError($forbidden, ForbiddenException::class, 'FORBIDDEN', 403);
    }
}
