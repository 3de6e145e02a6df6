<?php

declare(strict_types=1);

namespace MailPass;

use MailPass\Exception\FileException;

/**
 * Builds the entries of a message's `attachments` list: the file's bytes in base64 under
 * the API's field names, ready for `$client->mail->send([..., 'attachments' => [...]])`.
 *
 *     'attachments' => [
 *         MailPass\Attachment::fromPath('/srv/invoices/2024-017.pdf'),
 *         MailPass\Attachment::fromPath(__DIR__ . '/logo.png', 'image/png', 'logo'),
 *     ],
 *
 * A content_id makes the attachment inline: the HTML shows it with `<img src="cid:logo">`.
 * Without a content_type the server guesses one from the filename. The rules on names,
 * types and sizes are the server's; it answers a ValidationException naming the
 * attachment when one is broken.
 */
final class Attachment
{
    private function __construct()
    {
    }

    /**
     * An attachment of the file at $path, named as the file is (the last part of the path).
     *
     * @param string      $path        the file to read
     * @param string|null $contentType e.g. "application/pdf"; null: the server guesses
     * @param string|null $contentId   e.g. "logo", to show it inline as `cid:logo`
     *
     * @return array{filename: string, content: string, content_type?: string, content_id?: string}
     *
     * @throws FileException the file does not exist, is a directory, or cannot be read
     */
    public static function fromPath(string $path, ?string $contentType = null, ?string $contentId = null): array
    {
        if (is_dir($path)) {
            throw new FileException(sprintf('Cannot attach "%s": it is a directory, not a file.', $path));
        }
        error_clear_last();
        $bytes = @file_get_contents($path);
        if ($bytes === false) {
            // "file_get_contents(...): Failed to open stream: No such file or directory"
            $last = error_get_last()['message'] ?? '';
            $cut = strrpos($last, ': ');
            $reason = $cut === false ? 'it cannot be read' : substr($last, $cut + 2);
            throw new FileException(sprintf('Cannot attach "%s": %s.', $path, rtrim($reason, '.')));
        }

        return self::fromBytes(self::basename($path), $bytes, $contentType, $contentId);
    }

    /**
     * An attachment of bytes you already hold (a PDF rendered in memory, a download...).
     *
     * @param string      $filename    the name the recipient sees, e.g. "invoice.pdf"
     * @param string      $bytes       the file's content, as is (this method encodes it)
     * @param string|null $contentType e.g. "application/pdf"; null: the server guesses
     * @param string|null $contentId   e.g. "logo", to show it inline as `cid:logo`
     *
     * @return array{filename: string, content: string, content_type?: string, content_id?: string}
     */
    public static function fromBytes(
        string $filename,
        string $bytes,
        ?string $contentType = null,
        ?string $contentId = null
    ): array {
        $attachment = ['filename' => $filename, 'content' => base64_encode($bytes)];
        if ($contentType !== null) {
            $attachment['content_type'] = $contentType;
        }
        if ($contentId !== null) {
            $attachment['content_id'] = $contentId;
        }

        return $attachment;
    }

    /**
     * The last part of $path. Not basename(), which depends on the locale and can cut a
     * multibyte name; "/" (and "\" on Windows) never occurs inside a UTF-8 character.
     */
    private static function basename(string $path): string
    {
        $separators = DIRECTORY_SEPARATOR === '\\' ? '/\\' : '/';
        $length = strcspn(strrev($path), $separators);

        return substr($path, strlen($path) - $length);
    }
}
