// The shapes of `GET /v1/catalog` the console reads (see the hub's OpenAPI document).
export interface Field {
  name: string;
  type: string;
  nullable: boolean;
  classification: string;
  description?: string;
}

export interface DatasetSummary {
  name: string;
  table: string;
  title: string;
  description: string;
  owner: { name: string; email: string };
  source_kind: string;
  version: number;
  available: boolean;
  unavailable_reason?: string;
  fields: Field[];
  access_conditions: { decision_days: number; recertification_days: number; auto_approve?: Permit[] };
  accelerated: boolean;
  /** The in-memory copy queries read, when the dataset is accelerated. */
  acceleration?: { refresh?: string; rows: number; refreshed_at: string; last_error?: string; last_error_at?: string };
  /** The columns that identify whom a row is about: a dataset with one offers verify-only grants. */
  subject_key?: string[];
}

/** A condition of the dataset's permit list: a request within it is approved at once. */
export interface Permit {
  kind?: "read" | "verify";
  departments?: string[];
  purposes: string[];
  columns: string[];
  masks?: Record<string, { kind: string } & Record<string, unknown>>;
  row_filter?: string;
  max_subjects_per_day?: number;
  verify?: { column_matches?: boolean; max_attempts_per_subject?: number; max_records_per_day?: number };
  max_days: number;
}

export interface Catalog {
  departments: { name: string; datasets: DatasetSummary[] }[];
}

/** The console's route of the page of dataset `table` (`department.name`, as the catalogue
 * and the hub's messages name it): `/datasets/{department}/{name}`, as main.ts routes it. */
export function datasetPage(table: string): string {
  const [department = "", ...name] = table.split(".");
  return `/datasets/${encodeURIComponent(department)}/${encodeURIComponent(name.join("."))}`;
}
