<?php

declare(strict_types=1);

namespace MailPass\Tests;

use MailPass\Exception\NotFoundException;
use MailPass\Exception\RecipientSuppressedException;
use MailPass\Exception\ValidationException;

/**
 * The suppression list against the live server, with an address that holds a "/".
 */
final class SuppressionsTest extends TestCase
{
    public function testAddListSendRemoveRoundTrip(): void
    {
        $client = self::live();
        $email = 'sdk/php-' . bin2hex(random_bytes(4)) . '@example.com';

        $added = $client->suppressions->add([
            'email' => $email,
            'reason' => 'unsubscribed',
            'description' => 'Asked by the PHP SDK suite',
        ]);
        self::assertTrue($added['success']);
        self::assertTrue($added['data']['created']);
        self::assertSame($email, $added['data']['suppression']['email']);
        self::assertSame('unsubscribed', $added['data']['suppression']['reason']);

        $again = $client->suppressions->add($email); // the address alone is enough
        self::assertFalse($again['data']['created']);

        $listed = $client->suppressions->list(['email' => $email]);
        self::assertSame(1, $listed['data']['total']);
        self::assertSame($email, $listed['data']['suppressions'][0]['email']);
        self::assertSame('Asked by the PHP SDK suite', $listed['data']['suppressions'][0]['description']);
        $all = $client->suppressions->list(['page' => 1]);
        self::assertContains($email, array_column($all['data']['suppressions'], 'email'));

        $error = self::throws(RecipientSuppressedException::class, fn () => $client->mail->send([
            'to' => $email, 'subject' => 'Not for you', 'text' => 'Never sent.',
        ]));
        self::assertApiError($error, RecipientSuppressedException::class, 'RECIPIENT_SUPPRESSED', 422);
        self::assertSame([$email], $error->getDetails()['suppressed']);
        $messageId = $error->getMessageId();
        self::assertNotNull($messageId);
        self::assertSame('suppressed', $client->mail->status($messageId)['data']['message']['status']);

        $removed = $client->suppressions->remove($email);
        self::assertSame(['success' => true, 'data' => ['email' => $email]], $removed);
        self::assertSame(0, $client->suppressions->list(['email' => $email])['data']['total']);

        $gone = self::throws(NotFoundException::class, fn () => $client->suppressions->remove($email));
        self::assertApiError($gone, NotFoundException::class, 'NOT_FOUND', 404);
    }

    public function testAPageBeyondTheLastIsAValidationError(): void
    {
        $error = self::throws(
            ValidationException::class,
            fn () => self::live()->suppressions->list(['page' => 9999])
        );
        self::assertApiError($error, ValidationException::class, 'VALIDATION_ERROR', 400);
        self::assertArrayHasKey('page', $error->getDetails());
    }
}
