<?php

declare(strict_types=1);

// The suite loads the SDK through its own drop-in autoloader, as users without Composer do.
require dirname(__DIR__) . '/autoload.php';
require __DIR__ . '/TestCase.php';
