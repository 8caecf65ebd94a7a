import { render } from 'preact';

render(<p>appvisor</p>, document.getElementById('root')!);
