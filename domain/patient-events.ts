/**
 * Events of a patient's own stream (`patient-<patientRef>`): so far only the forgetting
 * (docs/adr/0010). The patient is named by their opaque reference; the pseudonym is what the
 * analysts' index knew them by, carried so projectors can find and drop it (it is not identity,
 * and once the key is gone nothing links it to anyone).
 */
import { z } from 'zod';

export const PATIENT_STREAM_PREFIX = 'patient-';

export const patientStreamName = (patientRef: string): string => `${PATIENT_STREAM_PREFIX}${patientRef}`;

export const patientEventSchemas = {
  PatientForgotten: z.object({
    patientRef: z.string().min(1),
    /** HMAC-SHA256(data key, 'analytics-pseudonym'), computed before the key was deleted. */
    pseudonym: z.string().regex(/^[0-9a-f]{64}$/),
    forgottenAt: z.string().min(1),
  }),
} as const;

export type PatientForgotten = {
  type: 'PatientForgotten';
  data: z.infer<typeof patientEventSchemas.PatientForgotten>;
};

export const latestPatientEventVersions = { PatientForgotten: 1 } as const;

/** A PatientForgotten read off the wire, or undefined for anything else or a bad shape. */
export function parsePatientForgotten(event: { type: string; data: unknown }): PatientForgotten | undefined {
  if (event.type !== 'PatientForgotten') return undefined;
  const parsed = patientEventSchemas.PatientForgotten.safeParse(event.data);
  return parsed.success ? { type: 'PatientForgotten', data: parsed.data } : undefined;
}
