/**
 * Who is signed in. Locally that is the development sign-in of the gateway (POST /dev/sign-in,
 * present only outside production), which mints a token as `npm run token` does.
 */
import { shallowRef } from 'vue';

export interface Session {
  token: string;
  sub: string;
  role: 'patient' | 'admin';
}

const KEY = 'booking.session';

function restore(): Session | undefined {
  try {
    const raw = localStorage.getItem(KEY);
    return raw ? (JSON.parse(raw) as Session) : undefined;
  } catch {
    return undefined;
  }
}

export const session = shallowRef<Session | undefined>(restore());

export async function devSignIn(role: Session['role']): Promise<Session> {
  const res = await fetch('/dev/sign-in', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ role }),
  });
  if (!res.ok) throw new Error(`sign-in failed: ${res.status}`);
  const signed = (await res.json()) as Session;
  localStorage.setItem(KEY, JSON.stringify(signed));
  session.value = signed;
  return signed;
}

export function signOut(): void {
  localStorage.removeItem(KEY);
  session.value = undefined;
}
