import type { Migration, MigrationProvider } from "kysely";
import type { Dialect } from "../database.js";
import { initialMigration } from "./001-initial.js";
import { compactDerivedMigration } from "./002-compact-derived.js";
import { seriesBlocksOf16DaysMigration } from "./003-series-blocks-of-16-days.js";
import { videosByCreateTimeMigration } from "./004-videos-by-create-time.js";
import { recountedVideosMigration } from "./005-recounted-videos.js";
import { accountsMigration } from "./006-accounts.js";
import { refundOnceMigration } from "./007-refund-once.js";
import { upstreamSnapshotsMigration } from "./008-upstream-snapshots.js";
import { packedColumnsUncompressedMigration } from "./009-packed-columns-uncompressed.js";
import { chartWindowsMigration } from "./010-chart-windows.js";
import { videoPeaksMigration } from "./011-video-peaks.js";
import { noStoredSignaturesMigration } from "./012-no-stored-signatures.js";
import { roomForUpdatesMigration } from "./013-room-for-updates.js";

/** Every migration, in order. Names never change once released. */
function listMigrations(dialect: Dialect): Record<string, Migration> {
  return {
    "001-initial": initialMigration(dialect),
    "002-compact-derived": compactDerivedMigration(dialect),
    "003-series-blocks-of-16-days": seriesBlocksOf16DaysMigration,
    "004-videos-by-create-time": videosByCreateTimeMigration,
    "005-recounted-videos": recountedVideosMigration(dialect),
    "006-accounts": accountsMigration(dialect),
    "007-refund-once": refundOnceMigration,
    "008-upstream-snapshots": upstreamSnapshotsMigration(dialect),
    "009-packed-columns-uncompressed": packedColumnsUncompressedMigration(dialect),
    "010-chart-windows": chartWindowsMigration(dialect),
    "011-video-peaks": videoPeaksMigration(dialect),
    "012-no-stored-signatures": noStoredSignaturesMigration,
    "013-room-for-updates": roomForUpdatesMigration(dialect),
  };
}

export function createMigrationProvider(dialect: Dialect): MigrationProvider {
  return { getMigrations: async () => listMigrations(dialect) };
}
