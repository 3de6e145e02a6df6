<?php

declare(strict_types=1);

namespace MailPass\Internal;

/**
 * Turning PHP values into the JSON the API expects, where json_encode alone would not.
 *
 * @internal Not part of the public API.
 */
final class Params
{
    private function __construct()
    {
    }

    /**
     * ISO 8601 with the date's own offset, e.g. "2026-12-05T09:00:00+01:00"; the fraction
     * of a second only when there is one ("2026-12-05T09:00:00.250000+01:00").
     */
    public static function dateTime(\DateTimeInterface $at): string
    {
        return $at->format($at->format('u') === '000000' ? 'Y-m-d\TH:i:sP' : 'Y-m-d\TH:i:s.uP');
    }

    /**
     * $value, or its ISO 8601 string when it is a DateTimeInterface. Anything else (a string
     * such as "2026-12-05T08:00:00Z", null...) goes as it is, for the server to judge.
     */
    public static function dateTimeOrAsIs(mixed $value): mixed
    {
        return $value instanceof \DateTimeInterface ? self::dateTime($value) : $value;
    }

    /**
     * $value, or an empty JSON object when it is an empty array: json_encode would make `[]`
     * of it, which the API refuses where it wants an object (metadata, variables...).
     */
    public static function objectIfEmpty(mixed $value): mixed
    {
        return $value === [] ? new \stdClass() : $value;
    }

    /**
     * $params with each of $fields that is present and an empty array as `{}`.
     *
     * @param array<mixed> $params
     * @param list<string> $fields
     *
     * @return array<mixed>
     */
    public static function withObjects(array $params, array $fields): array
    {
        foreach ($fields as $field) {
            if (array_key_exists($field, $params)) {
                $params[$field] = self::objectIfEmpty($params[$field]);
            }
        }

        return $params;
    }
}
