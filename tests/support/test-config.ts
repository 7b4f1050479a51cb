import { parseConfig, type Config } from '../../platform/config.ts';

/** The configuration integration tests use: the environment's, with defaults pointing at the local engines. */
export function testConfig(): Config {
  const result = parseConfig(process.env);
  if (!result.ok) throw new Error(`bad test environment:\n${result.errors.join('\n')}`);
  return result.config;
}
