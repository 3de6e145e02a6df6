<?php

/*
 * For projects without Composer: `require '/path/to/mailpass-php/autoload.php';` and the
 * MailPass\ classes load from src/ (PSR-4), exactly as Composer's autoloader would load them.
 */

declare(strict_types=1);

spl_autoload_register(static function (string $class): void {
    $prefix = 'MailPass\\';
    if (strncmp($class, $prefix, strlen($prefix)) !== 0) {
        return;
    }
    $relative = str_replace('\\', '/', substr($class, strlen($prefix)));
    $file = __DIR__ . '/src/' . $relative . '.php';
    if (is_file($file)) {
        require $file;
    }
});
