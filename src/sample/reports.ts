/**
 * Directory-level `game_detection.json` reports (not sidecars of any image), as the game
 * splitter writes them into date folders and game folders; sometimes wrapped in
 * `{sidecar_info, data}`.
 */
import type { JsonObject, JsonValue } from '../types.js';
import type { Rng } from './prng.js';
import { isoMicros, US_PER_HOUR, US_PER_MINUTE } from './time.js';

export interface ReportGame {
  id: number;
  folder: string;
  startUs: number;
  endUs: number;
  photoFiles: string[];
}

export function gameReport(rng: Rng, dirPath: string, games: readonly ReportGame[], totalPhotos: number): JsonObject {
  let inGames = 0;
  const list: JsonValue[] = games.map((g) => {
    inGames += g.photoFiles.length;
    return {
      game_id: g.id,
      start_time: isoMicros(g.startUs),
      end_time: isoMicros(g.endUs),
      duration_minutes: (g.endUs - g.startUs) / US_PER_MINUTE,
      folder_name: g.folder,
      photo_count: g.photoFiles.length,
      photo_files: g.photoFiles,
    };
  });
  const data: JsonObject = {
    success: true,
    games: list,
    summary: {
      total_photos: totalPhotos,
      total_games: games.length,
      photos_in_games: inGames,
      unassigned_photos: Math.max(0, totalPhotos - inGames),
      detection_method: 'time_gap',
      min_gap_minutes: 30,
      processing_time: rng.range(0.2, 4),
    },
  };
  if (!rng.chance(0.4)) return data;
  const last = games.length > 0 ? games[games.length - 1].endUs : 0;
  const at = isoMicros(last + Math.floor(rng.range(US_PER_HOUR, 10 * US_PER_HOUR)));
  return {
    sidecar_info: {
      operation_type: 'game_detection',
      created_at: at,
      last_updated: at,
      last_operation: 'game_detection',
      image_path: dirPath,
    },
    data,
  };
}
