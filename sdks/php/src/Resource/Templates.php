<?php

declare(strict_types=1);

namespace MailPass\Resource;

use MailPass\Exception\ApiException;
use MailPass\Exception\InvalidArgumentException;
use MailPass\Exception\NetworkException;
use MailPass\Internal\Params;
use MailPass\Internal\Transport;

/**
 * The account's email templates (/api/v1/templates): a subject, an HTML and/or text body and
 * default variable values, written in a strict subset of Mustache (`{{name}}`,
 * `{{order.id}}`, `{{{raw}}}`, sections `{{#lines}}…{{/lines}}`, inverted sections,
 * comments; no partials, no delimiter changes). Every change of content makes a new,
 * numbered version; older versions stay readable and usable.
 *
 * A template is named by its id (an int) or its alias (a string such as "order-shipped");
 * either is URL-encoded into the path. Reading and rendering need a key with the `mail` or
 * the `templates` permission; creating, updating and deleting need `templates`.
 *
 * Every method returns the decoded JSON answer: `['success' => true, 'data' => [...]]`,
 * where a template is
 *
 *     ['id' => 12, 'alias' => 'order-shipped', 'name' => 'Order shipped', 'version' => 3,
 *      'subject' => 'Order {{order_id}} shipped', 'html' => '<p>Hi {{name}}</p>',
 *      'text' => 'Hi {{name}}', 'defaults' => ['name' => 'there'],
 *      'variables' => ['name', 'order_id'], 'created_at' => '…', 'updated_at' => '…']
 *
 * (`version`: the version shown; `variables`: the names it uses outside any section, sorted:
 * what a send must give unless `defaults` does).
 */
class Templates
{
    /** The fields whose value is a JSON object, which an empty PHP array would not become. */
    private const OBJECT_FIELDS = ['defaults'];

    /**
     * @internal Get it from {@see \MailPass\Client::$templates}.
     */
    public function __construct(private readonly Transport $transport)
    {
    }

    /**
     * The account's templates, newest first, 100 per page; each at its latest version.
     * A page past the last is a ValidationException.
     *
     * @param int|null $page 1, 2...; null: the server's default, the first
     *
     * @return array{
     *     success: bool,
     *     data: array{total: int, page: int, pages: int, templates: list<array<string, mixed>>}
     * }
     *
     * @throws ApiException
     * @throws NetworkException
     */
    public function list(?int $page = null): array
    {
        return $this->transport->request(
            'GET',
            '/api/v1/templates',
            null,
            $page === null ? [] : ['page' => $page]
        );
    }

    /**
     * Create a template (its version 1). The alias is unique in the account: 1 to 100
     * lower-case letters, digits, "-", "_" and "." with at least one letter.
     *
     * @param array{
     *     name: string,
     *     alias: string,
     *     subject: string,
     *     html?: string,
     *     text?: string,
     *     defaults?: array<string, mixed>
     * } $params   `html` or `text` (or both) is required; an empty `defaults` goes as `{}`
     *
     * @return array{success: bool, data: array{template: array<string, mixed>}}
     *
     * @throws ApiException ValidationException for a bad or already used alias, a template
     *                      that does not parse...; ForbiddenException without the
     *                      `templates` permission
     * @throws NetworkException
     */
    public function create(array $params): array
    {
        return $this->transport->request(
            'POST',
            '/api/v1/templates',
            Params::withObjects($params, self::OBJECT_FIELDS)
        );
    }

    /**
     * One template with the list of its versions (latest first): its latest content, or that
     * of $version.
     *
     * @return array{
     *     success: bool,
     *     data: array{
     *         template: array<string, mixed>,
     *         versions: list<array{version: int, created_at: string}>
     *     }
     * }
     *
     * @throws ApiException NotFoundException for an unknown id, alias or version
     * @throws NetworkException
     */
    public function get(int|string $idOrAlias, ?int $version = null): array
    {
        return $this->transport->request(
            'GET',
            self::path($idOrAlias),
            null,
            $version === null ? [] : ['version' => $version]
        );
    }

    /**
     * Change a template. A new subject, html, text or defaults makes a new version (the
     * earlier ones stay); a new name or alias does not.
     *
     * @param array{
     *     name?: string,
     *     alias?: string,
     *     subject?: string,
     *     html?: string,
     *     text?: string,
     *     defaults?: array<string, mixed>
     * } $params
     *
     * @return array{
     *     success: bool,
     *     data: array{
     *         template: array<string, mixed>,
     *         versions: list<array{version: int, created_at: string}>
     *     }
     * }
     *
     * @throws ApiException
     * @throws NetworkException
     */
    public function update(int|string $idOrAlias, array $params): array
    {
        return $this->transport->request(
            'PATCH',
            self::path($idOrAlias),
            Params::withObjects($params, self::OBJECT_FIELDS)
        );
    }

    /**
     * Delete a template with all its versions.
     *
     * @return array{success: bool, data: array{id: int, alias: string}}
     *
     * @throws ApiException TemplateInUseException while scheduled messages use it
     *                      (details.scheduled counts them)
     * @throws NetworkException
     */
    public function delete(int|string $idOrAlias): array
    {
        return $this->transport->request('DELETE', self::path($idOrAlias));
    }

    /**
     * Render a template without sending anything: what a message with these variables would
     * hold. Variables the template uses and neither $variables nor its defaults give are a
     * ValidationException (details.variables names them).
     *
     * @param array<string, mixed> $variables
     * @param int|null             $version   default: the latest
     *
     * @return array{
     *     success: bool,
     *     data: array{subject: string, html: string|null, text: string|null, version: int}
     * }
     *
     * @throws ApiException
     * @throws NetworkException
     */
    public function render(int|string $idOrAlias, array $variables = [], ?int $version = null): array
    {
        $body = ['variables' => Params::objectIfEmpty($variables)];
        if ($version !== null) {
            $body['version'] = $version;
        }

        return $this->transport->request('POST', self::path($idOrAlias) . '/render', $body);
    }

    /**
     * @return array<string, mixed>
     */
    public function __debugInfo(): array
    {
        return ['transport' => $this->transport];
    }

    private static function path(int|string $idOrAlias): string
    {
        if (is_string($idOrAlias) && trim($idOrAlias) === '') {
            throw new InvalidArgumentException('The template id or alias is empty.');
        }

        return '/api/v1/templates/' . rawurlencode((string) $idOrAlias);
    }
}
