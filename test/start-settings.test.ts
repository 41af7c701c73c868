import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startSettingsFromEnv } from '../dev/start-settings';

describe('npm start settings', () => {
  it("your own config gets a dev server state of its own, so the demo's schedules never act on your database", () => {
    const cwd = '/srv/caretaker';
    expect(startSettingsFromEnv({}, cwd).stateDir).toBe(resolve(cwd, '.caretaker'));
    expect(startSettingsFromEnv({ CARETAKER_CONFIG: 'ops/My Maintenance.yaml' }, cwd).stateDir).toBe(
      resolve(cwd, join('.caretaker', 'configs', 'My_Maintenance')),
    );
    expect(startSettingsFromEnv({ CARETAKER_CONFIG: 'mine.yaml', CARETAKER_STATE_DIR: '/var/lib/ct' }, cwd).stateDir).toBe('/var/lib/ct');
  });

  it('ports from the environment, refused when they are not ports or are the same', () => {
    expect(startSettingsFromEnv({}, '/x')).toMatchObject({ port: 7233, uiPort: 8233 });
    expect(() => startSettingsFromEnv({ CARETAKER_TEMPORAL_PORT: 'seven' }, '/x')).toThrow(
      'CARETAKER_TEMPORAL_PORT: expected a TCP port number from 1 to 65535, got "seven"',
    );
    expect(() => startSettingsFromEnv({ CARETAKER_TEMPORAL_PORT: '9000', CARETAKER_UI_PORT: '9000' }, '/x')).toThrow('expected two different ports');
  });
});
