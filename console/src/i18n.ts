// The console's two languages: Chinese (zh-CN) and English, chosen from the browser and
// switchable; the choice is kept for the next visit.
import { ref } from "vue";
import { ACTIONS, CHANGES, CLASSIFICATIONS, DETAILS, ERRORS_ZH } from "./messages/codes";
import { en, type MessageKey } from "./messages/en";
import { zhCN } from "./messages/zh-CN";

export type Locale = "en" | "zh-CN";

export type { MessageKey };

const messages: Record<Locale, Record<MessageKey, string>> = { en, "zh-CN": zhCN };

function initial(): Locale {
  const saved = localStorage.getItem("causeway.locale");
  if (saved === "en" || saved === "zh-CN") return saved;
  return navigator.language.toLowerCase().startsWith("zh") ? "zh-CN" : "en";
}

export const locale = ref<Locale>(initial());

export function setLocale(next: Locale): void {
  locale.value = next;
  localStorage.setItem("causeway.locale", next);
  document.documentElement.lang = next;
}

/** The message `key` in the current language, with `{name}` replaced from `values`. */
export function t(key: MessageKey, values: Record<string, string | number> = {}): string {
  const text: string = messages[locale.value][key];
  return text.replace(/\{(\w+)\}/g, (_, name: string) => String(values[name] ?? `{${name}}`));
}

/** A moment (an RFC 3339 time from the hub) as the person's language writes a date and time;
 * `time` alone for the time of day. */
export function dateTime(value: string | undefined, part: "both" | "date" | "time" = "both"): string {
  if (!value) return "";
  const moment = new Date(value);
  if (Number.isNaN(moment.getTime())) return value;
  if (part === "date") return moment.toLocaleDateString(locale.value);
  if (part === "time") return moment.toLocaleTimeString(locale.value);
  return moment.toLocaleString(locale.value);
}

/** What an audit record's action (`query.finished`) means, in the person's language; the
 * action itself when the console does not know it (a newer hub's). */
export function actionText(action: string): string {
  return ACTIONS[action]?.[locale.value] ?? action;
}

/** What an error code of the hub means, in the person's language where the hub's own
 * (English) message is not enough; `undefined` in English, or for a code not known here. */
export function errorWords(code: string): string | undefined {
  return locale.value === "zh-CN" ? ERRORS_ZH[code] : undefined;
}

/** The name of a field of an alert's detail (`threshold`), in the person's language. */
export function detailName(name: string): string {
  return DETAILS[name]?.[locale.value] ?? name;
}

const ROLES: Record<string, MessageKey> = {
  analyst: "roleAnalyst",
  publisher: "rolePublisher",
  security_admin: "roleSecurityAdmin",
  system_admin: "roleSystemAdmin",
  auditor: "roleAuditor",
};

/** A role (`security_admin`) in the person's language. */
export function roleText(role: string): string {
  const key = ROLES[role];
  return key ? t(key) : role;
}

/** What a field is called to a person: the word for its classification where that names
 * what it holds (`pii.phone`: Phone), else its name in words (`household_id`: Household id). */
export function fieldLabel(field: { name: string; classification: string }): string {
  const word = CLASSIFICATIONS[field.classification]?.[locale.value];
  if (word) return word;
  const spaced = field.name.replace(/_/g, " ");
  return spaced.charAt(0).toUpperCase() + spaced.slice(1);
}

/** A kind of contract change (`field_added`) in the person's language. */
export function changeText(kind: string): string {
  return CHANGES[kind]?.[locale.value] ?? kind;
}
