/** The settings of numbered schedules (docs/adr/0012) from the configuration, with the domain's defaults. */
import { defaultPatientRuleOptions, type PatientRuleOptions } from '../domain/patient-rules.ts';
import { defaultSlotOptions, type SlotOptions } from '../domain/slot-state.ts';
import type { Config } from '../platform/config.ts';

export type SlotConfig = Partial<
  Pick<
    Config,
    | 'HOLD_MINUTES'
    | 'OFFER_MINUTES'
    | 'BOOKING_CUTOFF_MINUTES'
    | 'CANCELLATION_CUTOFF_MINUTES'
    | 'PATIENT_MAX_ACTIVE'
    | 'NO_SHOW_LIMIT'
    | 'NO_SHOW_WINDOW_DAYS'
    | 'DEADLINE_POLL_MS'
    | 'DEADLINE_LEASE_SECONDS'
  >
>;

export const slotOptionsOf = (c: SlotConfig): SlotOptions => ({
  holdMinutes: c.HOLD_MINUTES ?? defaultSlotOptions.holdMinutes,
  offerMinutes: c.OFFER_MINUTES ?? defaultSlotOptions.offerMinutes,
  bookingCutoffMinutes: c.BOOKING_CUTOFF_MINUTES ?? defaultSlotOptions.bookingCutoffMinutes,
  cancellationCutoffMinutes: c.CANCELLATION_CUTOFF_MINUTES ?? defaultSlotOptions.cancellationCutoffMinutes,
});

export const patientRuleOptionsOf = (c: SlotConfig): PatientRuleOptions => ({
  ...slotOptionsOf(c),
  maxActive: c.PATIENT_MAX_ACTIVE ?? defaultPatientRuleOptions.maxActive,
  noShowLimit: c.NO_SHOW_LIMIT ?? defaultPatientRuleOptions.noShowLimit,
  noShowWindowDays: c.NO_SHOW_WINDOW_DAYS ?? defaultPatientRuleOptions.noShowWindowDays,
});
