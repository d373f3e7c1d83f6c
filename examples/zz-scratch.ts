import { readFileSync } from 'node:fs';
import { svgToPng } from '@ndgraph/nn/node';
const svg = readFileSync('/tmp/replot2/x.svg', 'utf8');
const paths = [...svg.matchAll(/<path[^>]*>/g)].map((m) => m[0]);
const k = Number(process.argv[2]);
let i = 0;
const out = svg.replace(/<path[^>]*>/g, (m) => (i++ === k ? '' : m));
svgToPng(out); console.log('ok without', k, paths[k].slice(0, 300));
