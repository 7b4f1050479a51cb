/**
 * The rule a refusal names: the gate's problems say it in their detail ("… (system-bbr); retry
 * later", "… (adaptive rule); retry later"); any other 429/503 by its problem's stable code
 * (`dependency_unavailable`: a breaker or bulkhead of the search engine or the database), else its title.
 */
export function refusalRule(body: string): string {
  let problem: { detail?: unknown; title?: unknown; code?: unknown };
  try {
    problem = JSON.parse(body) as { detail?: unknown; title?: unknown; code?: unknown };
  } catch {
    return 'not problem+json';
  }
  const named = typeof problem.detail === 'string' ? /\(([\w-]+)(?: rule)?\)/.exec(problem.detail) : null;
  if (named?.[1]) return named[1];
  if (typeof problem.code === 'string') return problem.code;
  return typeof problem.title === 'string' ? problem.title : 'untitled';
}
