// A person's area: the grants that limit them to rows by a row filter on their own
// attributes (`grid_id = principal.grid_id`), the grid worker's view of their grid. The hub
// applies the filter; this only finds which grants make an area, to offer the view.
import { api } from "./api";
import type { Grant } from "./requests";
import type { Person } from "./session";

export interface AreaGrant extends Grant {
  dataset: string;
  subject?: { client?: string; department?: string; role?: string };
  revoked_at?: string;
}

/** The attributes a row filter names (`principal.grid_id`). */
export function attributesNamed(filter: string): string[] {
  return [...filter.matchAll(/principal\.(\w+)/g)].map((match) => match[1] ?? "");
}

/** Whether `grant` gives `person` an area: made for them, in force, and limited by a row
 * filter on attributes they have (without one, the grant gives no rows at all). */
export function isArea(grant: AreaGrant, person: Person | null): boolean {
  if (!person || grant.revoked_at || grant.kind === "verify" || !grant.row_filter?.includes("principal.")) return false;
  if (grant.expires_at && Date.parse(grant.expires_at) < Date.now()) return false;
  if (attributesNamed(grant.row_filter).some((name) => person.attributes[name] === undefined)) return false;
  const subject = grant.subject ?? {};
  if (subject.client) return subject.client === person.id;
  return (!subject.department || subject.department === person.department) && (!subject.role || person.roles.includes(subject.role));
}

/** The grants that give `person` an area. */
export async function areaGrants(person: Person | null): Promise<AreaGrant[]> {
  return (await api<AreaGrant[]>("/v1/grants")).filter((grant) => isArea(grant, person));
}
