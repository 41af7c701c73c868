import { beforeAll } from 'vitest';
import { loadSqlParser } from '../tasks/sql-text';

// Config with SQL expression text parses synchronously (parseConfigText); its parser loads once per test file, as at the edges in production.
beforeAll(() => loadSqlParser());
