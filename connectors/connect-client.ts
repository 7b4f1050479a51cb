/** A small client for the Kafka Connect REST API (create-or-update, status, restart, delete). */
export interface ConnectorStatus {
  name: string;
  connector: { state: string; worker_id: string; trace?: string };
  tasks: { id: number; state: string; worker_id: string; trace?: string }[];
}

export class ConnectClient {
  constructor(
    private readonly baseUrl: string,
    private readonly timeoutMs = 15_000,
  ) {}

  private async call(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; json: unknown }> {
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    const text = await res.text();
    const json: unknown = text ? JSON.parse(text) : null;
    return { status: res.status, json };
  }

  private async expectOk(
    method: string,
    path: string,
    body?: unknown,
    allowed: number[] = [],
  ): Promise<unknown> {
    const { status, json } = await this.call(method, path, body);
    if (status >= 400 && !allowed.includes(status)) {
      throw new Error(`Connect ${method} ${path} -> ${status}: ${JSON.stringify(json)}`);
    }
    return json;
  }

  /** PUT /connectors/{name}/config creates or updates: applying the same config twice is a no-op. */
  async apply(name: string, config: Record<string, string>): Promise<{ created: boolean }> {
    const { status, json } = await this.call('PUT', `/connectors/${encodeURIComponent(name)}/config`, config);
    if (status !== 200 && status !== 201) {
      throw new Error(`Connect rejected ${name} (${status}): ${JSON.stringify(json)}`);
    }
    return { created: status === 201 };
  }

  async validate(pluginClass: string, config: Record<string, string>): Promise<string[]> {
    const short = pluginClass.split('.').at(-1) ?? pluginClass;
    const json = (await this.expectOk('PUT', `/connector-plugins/${short}/config/validate`, config)) as {
      configs: { value: { name: string; errors: string[] } | null }[];
    };
    // Some plugins list internal definitions with a null value: nothing to report for those.
    return json.configs.flatMap((c) => (c.value?.errors ?? []).map((e) => `${c.value?.name ?? '?'}: ${e}`));
  }

  async status(name: string): Promise<ConnectorStatus | null> {
    const { status, json } = await this.call('GET', `/connectors/${encodeURIComponent(name)}/status`);
    if (status === 404) return null;
    if (status >= 400) throw new Error(`Connect status ${name} -> ${status}: ${JSON.stringify(json)}`);
    return json as ConnectorStatus;
  }

  async list(): Promise<string[]> {
    return (await this.expectOk('GET', '/connectors')) as string[];
  }

  /** Restarts the connector and only its failed tasks (KIP-745). */
  async restartFailed(name: string): Promise<void> {
    await this.expectOk(
      'POST',
      `/connectors/${encodeURIComponent(name)}/restart?includeTasks=true&onlyFailed=true`,
    );
  }

  async restart(name: string): Promise<void> {
    await this.expectOk('POST', `/connectors/${encodeURIComponent(name)}/restart?includeTasks=true`);
  }

  async pause(name: string): Promise<void> {
    await this.expectOk('PUT', `/connectors/${encodeURIComponent(name)}/pause`);
  }

  async resume(name: string): Promise<void> {
    await this.expectOk('PUT', `/connectors/${encodeURIComponent(name)}/resume`);
  }

  async delete(name: string): Promise<void> {
    await this.expectOk('DELETE', `/connectors/${encodeURIComponent(name)}`, undefined, [404]);
  }

  /** Waits until the connector and all its tasks are RUNNING; fails fast with the trace of a FAILED one. */
  async waitRunning(name: string, timeoutMs = 60_000): Promise<ConnectorStatus> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = await this.status(name);
      if (s) {
        const failed = [s.connector, ...s.tasks].find((t) => t.state === 'FAILED');
        if (failed) throw new Error(`connector ${name} FAILED: ${failed.trace?.split('\n')[0] ?? ''}`);
        if (
          s.connector.state === 'RUNNING' &&
          s.tasks.length > 0 &&
          s.tasks.every((t) => t.state === 'RUNNING')
        ) {
          return s;
        }
      }
      if (Date.now() > deadline) throw new Error(`connector ${name} not RUNNING after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 300));
    }
  }
}
