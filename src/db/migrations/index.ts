import type { Migration, MigrationProvider } from "kysely";
import type { Dialect } from "../database.js";
import { initialMigration } from "./001-initial.js";
import { compactDerivedMigration } from "./002-compact-derived.js";

/** Every migration, in order. Names never change once released. */
export function listMigrations(dialect: Dialect): Record<string, Migration> {
  return {
    "001-initial": initialMigration(dialect),
    "002-compact-derived": compactDerivedMigration(dialect),
  };
}

export function createMigrationProvider(dialect: Dialect): MigrationProvider {
  return { getMigrations: async () => listMigrations(dialect) };
}
