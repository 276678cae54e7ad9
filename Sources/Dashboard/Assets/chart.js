// Tradewire dashboard: the candlestick chart with volume, drawn on a canvas by hand (no library). Loaded before
// dashboard.js, which calls drawCandleChart whenever its candles change.
'use strict';

/**
 * Draws `candles` (numbers: {open, high, low, close, volume, time}, oldest first) into `canvas` at its CSS size and
 * the screen's pixel ratio: as many of the newest as fit, prices on the right with `digits` decimals, the last close
 * as a dashed line, volume bars below, the first and last candle's `clock(time)` along the bottom. `empty` is the
 * text shown without candles. Draws nothing while the canvas has no size.
 */
window.drawCandleChart = function drawCandleChart(canvas, candles, { digits, empty, clock }) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth;
  const height = canvas.clientHeight;
  if (!width || !height) return;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  const context = canvas.getContext('2d');
  context.setTransform(ratio, 0, 0, ratio, 0, 0);
  context.clearRect(0, 0, width, height);
  const axis = 70;
  const plotWidth = width - axis;
  const priceHeight = Math.round(height * 0.72);
  const volumeTop = priceHeight + 12;
  const volumeHeight = height - volumeTop - 16;
  const slot = 9;
  const visible = candles.slice(-Math.max(1, Math.floor(plotWidth / slot)));
  const last = visible[visible.length - 1];
  context.font = '11px system-ui, "DejaVu Sans", sans-serif';
  context.fillStyle = '#8193a6';
  if (!visible.length) {
    context.fillText(empty, 12, 20);
    return;
  }
  let low = Math.min(...visible.map((candle) => candle.low));
  let high = Math.max(...visible.map((candle) => candle.high));
  if (high === low) { high += 1; low -= 1; }
  const padding = (high - low) * 0.08;
  high += padding;
  low -= padding;
  const maxVolume = Math.max(...visible.map((candle) => candle.volume)) || 1;
  const y = (price) => 8 + ((high - price) / (high - low)) * (priceHeight - 16);
  context.strokeStyle = '#1f2b38';
  context.lineWidth = 1;
  for (let step = 0; step <= 4; step += 1) {
    const price = low + ((high - low) * step) / 4;
    const lineY = Math.round(y(price)) + 0.5;
    context.beginPath();
    context.moveTo(0, lineY);
    context.lineTo(plotWidth, lineY);
    context.stroke();
    context.fillText(price.toFixed(digits), plotWidth + 6, lineY + 4);
  }
  visible.forEach((candle, index) => {
    const x = plotWidth - (visible.length - index) * slot + slot / 2;
    const up = candle.close >= candle.open;
    const color = up ? '#2ec27e' : '#f0595b';
    context.strokeStyle = color;
    context.fillStyle = color;
    context.beginPath();
    context.moveTo(Math.round(x) + 0.5, y(candle.high));
    context.lineTo(Math.round(x) + 0.5, y(candle.low));
    context.stroke();
    const top = y(Math.max(candle.open, candle.close));
    const bodyHeight = Math.max(1, Math.abs(y(candle.open) - y(candle.close)));
    context.fillRect(Math.round(x - 3), top, 7, bodyHeight);
    const barHeight = Math.max(1, (candle.volume / maxVolume) * volumeHeight);
    context.globalAlpha = 0.5;
    context.fillRect(Math.round(x - 3), volumeTop + volumeHeight - barHeight, 7, barHeight);
    context.globalAlpha = 1;
  });
  context.fillStyle = '#8193a6';
  context.fillText('volume', 4, volumeTop + 10);
  const first = visible[0];
  context.fillText(clock(first.time), 4, height - 3);
  context.fillText(clock(last.time), Math.max(4, plotWidth - 60), height - 3);
  const lastY = Math.round(y(last.close)) + 0.5;
  context.strokeStyle = '#4ea1ff';
  context.setLineDash([3, 3]);
  context.beginPath();
  context.moveTo(0, lastY);
  context.lineTo(plotWidth, lastY);
  context.stroke();
  context.setLineDash([]);
  context.fillStyle = '#4ea1ff';
  context.fillText(last.close.toFixed(digits), plotWidth + 6, lastY + 4);
};
