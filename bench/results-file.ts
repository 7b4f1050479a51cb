/**
 * Result files that more than one benchmark writes (bench/results/tracing.md: the query API's
 * on/off run and the command API's). Each benchmark owns one section, started by a marker line
 * `<!-- section: <name> -->`; the text before the first marker is the file's head. Writing one
 * section keeps the others as they are.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

const MARKER = /^<!-- section: ([\w.-]+) -->$/m;

interface Parts {
  head: string;
  sections: Map<string, string>;
}

export function parseSections(text: string): Parts {
  const pieces = text.split(new RegExp(MARKER.source, 'gm'));
  // split with a capture group: [head, name1, body1, name2, body2, …]
  const sections = new Map<string, string>();
  for (let i = 1; i + 1 < pieces.length; i += 2) sections.set(pieces[i]!, pieces[i + 1]!.replace(/^\n/, ''));
  return { head: pieces[0] ?? '', sections };
}

export function renderSections({ head, sections }: Parts): string {
  const parts = [head.replace(/\n*$/, '\n')];
  for (const [name, body] of sections)
    parts.push(`\n<!-- section: ${name} -->\n${body.replace(/\n*$/, '\n')}`);
  return parts.join('').replace(/^\n+/, '');
}

async function readParts(path: string): Promise<Parts> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return parseSections(text);
}

/** Replaces (or appends) the section `name` of the file at `path`. */
export async function writeSection(path: string, name: string, body: string): Promise<void> {
  const parts = await readParts(path);
  parts.sections.set(name, body);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, renderSections(parts));
}

/** Replaces the head of the file (the text before the first section), keeping every section. */
export async function writeHead(path: string, head: string): Promise<void> {
  const parts = await readParts(path);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, renderSections({ ...parts, head }));
}
