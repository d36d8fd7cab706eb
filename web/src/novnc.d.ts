// noVNC ships no type declarations; the viewer uses a handful of its API.
declare module '@novnc/novnc' {
  export default class RFB extends EventTarget {
    constructor(target: HTMLElement, url: string, options?: { wsProtocols?: string[]; shared?: boolean; credentials?: { password?: string } });
    scaleViewport: boolean;
    disconnect(): void;
    sendCredentials(c: { password?: string }): void;
    addEventListener(type: string, fn: (e: CustomEvent) => void): void;
  }
}
