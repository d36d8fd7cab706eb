// The remote desktop viewer: noVNC speaking RFB through codeterm's TCP
// tunnel. A bundle of its own (see scripts/build.mjs), loaded when a
// desktop is opened, so the page does not carry noVNC otherwise.
import RFB from '@novnc/novnc';

export interface Desktop {
  disconnect(): void;
  sendPassword(password: string): void;
}

export interface DesktopEvents {
  connected(): void;
  disconnected(clean: boolean): void;
  password(): void;
  failed(reason: string): void;
}

/** Connects target to the VNC server behind the tunnel at url. */
export function connect(target: HTMLElement, url: string, protocols: string[], on: DesktopEvents): Desktop {
  const rfb = new RFB(target, url, { wsProtocols: protocols, shared: true });
  rfb.scaleViewport = true;
  rfb.addEventListener('connect', () => on.connected());
  rfb.addEventListener('disconnect', (e: CustomEvent) => on.disconnected(Boolean(e.detail?.clean)));
  rfb.addEventListener('credentialsrequired', () => on.password());
  rfb.addEventListener('securityfailure', (e: CustomEvent) => on.failed(String(e.detail?.reason ?? 'security failure')));
  return {
    disconnect: () => rfb.disconnect(),
    sendPassword: (password) => rfb.sendCredentials({ password }),
  };
}
