/**
 * SVG → PNG with resvg (a Rust SVG renderer, no browser needed). Node only.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import type * as ResvgModule from '@resvg/resvg-js';

/**
 * resvg is a native addon: it is loaded on first use, so that the rest of the
 * Node entry (data loaders, progress) works even where its binary is missing.
 */
let resvgModule: typeof ResvgModule | undefined;
function loadResvg(): typeof ResvgModule {
  resvgModule ??= createRequire(import.meta.url)('@resvg/resvg-js') as typeof ResvgModule;
  return resvgModule;
}

export interface PngOptions {
  /** Output width in pixels; the height keeps the SVG's aspect ratio. Default: the SVG's own width. */
  width?: number;
  /** Extra font files (.ttf/.otf) to load, for systems without common fonts. */
  fontFiles?: string[];
  /** Background color behind transparent areas (default white). */
  background?: string;
}

/**
 * Sans-serif families to map the SVG's generic `sans-serif` to, with a file
 * that shows whether each is installed. resvg's own default (Arial) is often
 * missing on Linux, and its fallback then is a serif face.
 */
const SANS_SERIF_CANDIDATES: [family: string, files: string[]][] = [
  [
    'DejaVu Sans',
    [
      '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf',
      '/usr/share/fonts/dejavu/DejaVuSans.ttf',
      '/usr/share/fonts/TTF/DejaVuSans.ttf',
      '/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf',
    ],
  ],
  [
    'Liberation Sans',
    [
      '/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf',
      '/usr/share/fonts/liberation-sans/LiberationSans-Regular.ttf',
      '/usr/share/fonts/TTF/LiberationSans-Regular.ttf',
    ],
  ],
  ['Arial', ['/System/Library/Fonts/Supplemental/Arial.ttf', '/Library/Fonts/Arial.ttf', 'C:\\Windows\\Fonts\\arial.ttf']],
  ['Helvetica', ['/System/Library/Fonts/Helvetica.ttc']],
];

let sansSerifFamily: string | null | undefined;

function installedSansSerif(): string | null {
  if (sansSerifFamily === undefined) {
    sansSerifFamily = SANS_SERIF_CANDIDATES.find(([, files]) => files.some((f) => existsSync(f)))?.[0] ?? null;
  }
  return sansSerifFamily;
}

/** Renders SVG text to PNG bytes, with the system's fonts so labels are readable. */
export function svgToPng(svg: string, options: PngOptions = {}): Uint8Array {
  const family = installedSansSerif();
  const { Resvg } = loadResvg();
  const resvg = new Resvg(svg, {
    fitTo: options.width !== undefined ? { mode: 'width', value: Math.round(options.width) } : { mode: 'original' },
    background: options.background ?? 'white',
    font: {
      loadSystemFonts: true,
      fontFiles: options.fontFiles ?? [],
      ...(family ? { sansSerifFamily: family, defaultFontFamily: family } : {}),
    },
    logLevel: 'off',
  });
  const png = resvg.render().asPng();
  return new Uint8Array(png.buffer, png.byteOffset, png.byteLength);
}
