<?php

declare(strict_types=1);

namespace MailPass\Resource;

use MailPass\Exception\ApiException;
use MailPass\Exception\InvalidArgumentException;
use MailPass\Exception\NetworkException;
use MailPass\Internal\Transport;

/**
 * The account's suppression list (/api/v1/suppressions): addresses that hard-bounced,
 * complained, unsubscribed or were added by hand. Mail to them is never handed to a
 * provider; a send to one fails with RecipientSuppressedException.
 */
class Suppressions
{
    /**
     * @internal Get it from {@see \MailPass\Client::$suppressions}.
     */
    public function __construct(private readonly Transport $transport)
    {
    }

    /**
     * Suppressed addresses, newest first, 100 per page.
     *
     * @param array{email?: string, page?: int} $params email: only this address; page: 1, 2...
     *
     * @return array{
     *     success: bool,
     *     data: array{
     *         total: int,
     *         page: int,
     *         pages: int,
     *         suppressions: list<array{
     *             email: string,
     *             reason: string,
     *             description: string,
     *             message_id: string|null,
     *             created_at: string
     *         }>
     *     }
     * }
     *
     * @throws ApiException
     * @throws NetworkException
     */
    public function list(array $params = []): array
    {
        return $this->transport->request('GET', '/api/v1/suppressions', null, $params);
    }

    /**
     * Put an address on the list. `data.created` is false when it was already there.
     *
     * @param string|array{email: string, reason?: 'manual'|'unsubscribed', description?: string} $params
     *        the address alone, or the API's fields
     *
     * @return array{success: bool, data: array{created: bool, suppression: array<string, mixed>}}
     *
     * @throws ApiException
     * @throws NetworkException
     */
    public function add(string|array $params): array
    {
        if (is_string($params)) {
            $params = ['email' => $params];
        }

        return $this->transport->request('POST', '/api/v1/suppressions', $params);
    }

    /**
     * Take an address off the list. NotFoundException when it is not on it.
     *
     * @return array{success: bool, data: array{email: string}}
     *
     * @throws ApiException
     * @throws NetworkException
     */
    public function remove(string $email): array
    {
        if (trim($email) === '') {
            throw new InvalidArgumentException('The email address is empty.');
        }

        return $this->transport->request('DELETE', '/api/v1/suppressions/' . rawurlencode($email));
    }

    /**
     * @return array<string, mixed>
     */
    public function __debugInfo(): array
    {
        return ['transport' => $this->transport];
    }
}
