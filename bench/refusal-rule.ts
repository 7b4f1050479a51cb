/**
 * The rule a refusal names: the gate's problems say it in their detail ("… (system-bbr); retry
 * later", "… (adaptive rule); retry later"); any other 429/503 is named by its problem's title.
 */
export function refusalRule(body: string): string {
  let problem: { detail?: unknown; title?: unknown };
  try {
    problem = JSON.parse(body) as { detail?: unknown; title?: unknown };
  } catch {
    return 'not problem+json';
  }
  const named = typeof problem.detail === 'string' ? /\(([\w-]+)(?: rule)?\)/.exec(problem.detail) : null;
  if (named?.[1]) return named[1];
  return typeof problem.title === 'string' ? problem.title : 'untitled';
}
