/** Launching the test Chromium: Debian's at /usr/bin/chromium unless NDGRAPH_CHROMIUM names another. */
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.NDGRAPH_CHROMIUM ?? '/usr/bin/chromium';
/** Headless, and nothing that reaches out to the network: this machine's network is closed. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export const launchChromium = () => chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
