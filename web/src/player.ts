// The replay chunk: asciinema-player and its styles, built apart from the
// app (scripts/build.mjs) and loaded only by the replay page.
import 'asciinema-player/dist/bundle/asciinema-player.css';

export { create } from 'asciinema-player';
